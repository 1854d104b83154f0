using Analytics.Api.Infrastructure.Database.Migrations;
using Analytics.Api.Infrastructure.Email;
using Dapper;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Analytics.Api.Tests.Infrastructure.Email;

/// <summary>The dispatcher on a database of its own (no other test's service claims its rows), with a mail server that fails on demand.</summary>
public sealed class OutboxDispatcherTests(TestDatabase database) : IAsyncLifetime
{
    private static readonly DateTimeOffset Start = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly SettableClock _clock = new(Start);
    private readonly ScriptedSender _sender = new();
    private NpgsqlDataSource _db = null!;

    public async ValueTask InitializeAsync()
    {
        _db = NpgsqlDataSource.Create(await database.CreateDatabaseAsync("outbox"));
        await new Migrator(_db, MigrationSet.Embedded, TimeProvider.System, NullLogger<Migrator>.Instance).MigrateAsync(CancellationToken.None);
    }

    public async ValueTask DisposeAsync() => await _db.DisposeAsync();

    private OutboxDispatcher Dispatcher(int maxAttempts = 10) =>
        new(_db, _sender, Options.Create(new EmailOptions { MaxAttempts = maxAttempts }), _clock, NullLogger<OutboxDispatcher>.Instance);

    private async Task<long> EnqueueAsync(string to)
    {
        await using var connection = await _db.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<long>("insert into outbox (recipient, subject, body, created_at) values (@to, 'Hello', 'Body', @at) returning id", new { to, at = _clock.GetUtcNow() });
    }

    private async Task<(DateTime? SentAt, int Attempts)> RowAsync(long id)
    {
        await using var connection = await _db.OpenConnectionAsync();
        return await connection.QuerySingleAsync<(DateTime?, int)>("select sent_at, attempts from outbox where id = @id", new { id });
    }

    [Fact]
    public async Task A_failed_send_is_retried_after_its_back_off_not_at_once_and_then_sent_once()
    {
        var id = await EnqueueAsync("a@example.com");
        _sender.FailuresLeft = 1;
        var dispatcher = Dispatcher();

        (await dispatcher.DispatchBatchAsync(CancellationToken.None)).ShouldBe(1);
        (await dispatcher.DispatchBatchAsync(CancellationToken.None)).ShouldBe(0);
        _clock.Advance(OutboxDispatcher.RetryDelay(1) - TimeSpan.FromSeconds(1));
        (await dispatcher.DispatchBatchAsync(CancellationToken.None)).ShouldBe(0);
        _clock.Advance(TimeSpan.FromSeconds(2));
        (await dispatcher.DispatchBatchAsync(CancellationToken.None)).ShouldBe(1);

        _sender.Delivered.ShouldBe(["a@example.com"]);
        var (sentAt, attempts) = await RowAsync(id);
        (sentAt is not null, attempts).ShouldBe((true, 2));
        (await dispatcher.DispatchBatchAsync(CancellationToken.None)).ShouldBe(0);
    }

    [Fact]
    public async Task A_mail_sent_as_the_node_stops_is_recorded_sent_and_the_rest_of_the_batch_is_released()
    {
        var first = await EnqueueAsync("first@example.com");
        var second = await EnqueueAsync("second@example.com");
        using var stopping = new CancellationTokenSource();
        _sender.AfterDelivery = stopping.Cancel;

        (await Dispatcher().DispatchBatchAsync(stopping.Token)).ShouldBe(2);

        _sender.Delivered.ShouldBe(["first@example.com"]);
        (await RowAsync(first)).SentAt.ShouldNotBeNull();
        (await RowAsync(second)).ShouldBe((null, 0));
        _sender.AfterDelivery = null;
        (await Dispatcher().DispatchBatchAsync(CancellationToken.None)).ShouldBe(1);
        _sender.Delivered.ShouldBe(["first@example.com", "second@example.com"]);
    }

    [Fact]
    public async Task A_mail_that_keeps_failing_is_given_up_after_the_last_attempt()
    {
        var id = await EnqueueAsync("down@example.com");
        _sender.FailuresLeft = int.MaxValue;
        var dispatcher = Dispatcher(maxAttempts: 3);

        for (var attempt = 1; attempt <= 3; attempt++)
        {
            (await dispatcher.DispatchBatchAsync(CancellationToken.None)).ShouldBe(1);
            _clock.Advance(OutboxDispatcher.RetryDelay(attempt));
        }

        (await dispatcher.DispatchBatchAsync(CancellationToken.None)).ShouldBe(0);
        (await RowAsync(id)).ShouldBe((null, 3));
        _sender.Delivered.ShouldBeEmpty();
    }

    private sealed class ScriptedSender : IEmailSender
    {
        public int FailuresLeft { get; set; }

        public Action? AfterDelivery { get; set; }

        public List<string> Delivered { get; } = [];

        public Task SendAsync(OutgoingEmail email, CancellationToken ct)
        {
            if (FailuresLeft > 0)
            {
                FailuresLeft--;
                throw new InvalidOperationException("the mail server is down");
            }

            Delivered.Add(email.To);
            AfterDelivery?.Invoke();
            return Task.CompletedTask;
        }
    }

    private sealed class SettableClock(DateTimeOffset now) : TimeProvider
    {
        private DateTimeOffset _now = now;

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
