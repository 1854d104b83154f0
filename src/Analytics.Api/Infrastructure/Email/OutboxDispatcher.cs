using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Analytics.Api.Infrastructure.Email;

public sealed class EmailOptions
{
    public const string Section = "Email";

    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(2);

    public int BatchSize { get; set; } = 50;

    public int MaxAttempts { get; set; } = 10;

    /// <summary>
    /// Keep a sent mail's body. Off by default: bodies carry live activation secrets. Development turns it on
    /// for <c>GET /dev/mailbox</c>.
    /// </summary>
    public bool KeepSentBodies { get; set; }
}

/// <summary>
/// Delivers pending outbox rows through <see cref="IEmailSender"/>. A pass claims a batch in a committed statement
/// (SKIP LOCKED, so several nodes share the work), counting the attempt and leasing the rows for
/// <see cref="Lease"/>; then each mail is sent and marked sent on its own. A sent mail is never sent again by a pass
/// that fails later, and a node that dies mid-send leaves its rows to be claimed when the lease ends (at least
/// once). A failed send is retried after a back-off that doubles per attempt (<see cref="RetryDelay"/>), so an
/// outage of the mail server of a few hours costs no mail; after <see cref="EmailOptions.MaxAttempts"/> it is given
/// up (maintenance deletes it with the sent ones).
/// </summary>
internal sealed partial class OutboxDispatcher(NpgsqlDataSource db, IEmailSender sender, IOptions<EmailOptions> options, TimeProvider clock, ILogger<OutboxDispatcher> logger) : BackgroundService
{
    internal static readonly TimeSpan Lease = TimeSpan.FromMinutes(5);

    private const string ClaimSql = """
        update outbox set attempts = attempts + 1, next_attempt_at = @LeaseEnd
        where id in (
            select id from outbox
            where sent_at is null and attempts < @MaxAttempts and (next_attempt_at is null or next_attempt_at <= @Now)
            order by id
            limit @BatchSize
            for update skip locked)
        returning id as Id, recipient as To, subject as Subject, body as Body, attempts as Attempts
        """;

    private const string SentSql = """
        update outbox set sent_at = @Now, next_attempt_at = null,
            body = case when @KeepBody then body else '(delivered; body removed)' end
        where id = @Id
        """;

    private const string FailedSql = "update outbox set last_error = @Error, next_attempt_at = @Retry where id = @Id";

    // Claimed but not tried (the node is stopping): back in line at once, the attempt not counted.
    private const string ReleaseSql = "update outbox set attempts = attempts - 1, next_attempt_at = null where id = any(@Ids) and sent_at is null";

    /// <summary>10 s after the first attempt, doubling, at most an hour: ten attempts span about three hours.</summary>
    internal static TimeSpan RetryDelay(int attempts) => TimeSpan.FromSeconds(Math.Min(3600, 5 * Math.Pow(2, Math.Min(attempts, 20))));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.PollInterval, clock);
        do
        {
            try
            {
                while (await DispatchBatchAsync(stoppingToken) == options.Value.BatchSize)
                {
                }
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
            {
                LogUnavailable(ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>Sends one batch; returns how many rows it claimed.</summary>
    internal async Task<int> DispatchBatchAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        List<Pending> batch;
        await using (var connection = await db.OpenConnectionAsync(ct))
        {
            batch = [.. await connection.QueryAsync<Pending>(new CommandDefinition(ClaimSql, new { options.Value.MaxAttempts, options.Value.BatchSize, Now = now, LeaseEnd = now + Lease }, cancellationToken: ct))];
        }

        for (var i = 0; i < batch.Count; i++)
        {
            var mail = batch[i];
            if (ct.IsCancellationRequested)
            {
                await UpdateAsync(ReleaseSql, new { Ids = batch.Skip(i).Select(m => m.Id).ToArray() });
                break;
            }

            Exception? failure = null;
            try
            {
                await sender.SendAsync(new OutgoingEmail(mail.To, mail.Subject, mail.Body), ct);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                failure = ex;
            }

            // Recorded whatever the token says: a mail that went out must not go out again.
            if (failure is null)
            {
                await UpdateAsync(SentSql, new { mail.Id, Now = clock.GetUtcNow(), KeepBody = options.Value.KeepSentBodies });
            }
            else
            {
                LogSendFailed(mail.Id, mail.Attempts, failure.Message);
                await UpdateAsync(FailedSql, new { mail.Id, Error = failure.Message, Retry = clock.GetUtcNow() + RetryDelay(mail.Attempts) });
            }
        }

        return batch.Count;
    }

    private async Task UpdateAsync(string sql, object parameters)
    {
        await using var connection = await db.OpenConnectionAsync(CancellationToken.None);
        await connection.ExecuteAsync(new CommandDefinition(sql, parameters, cancellationToken: CancellationToken.None));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox: PostgreSQL unavailable ({Reason}); retrying")]
    private partial void LogUnavailable(string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox: sending mail {Id} failed (attempt {Attempt}): {Reason}")]
    private partial void LogSendFailed(long id, int attempt, string reason);

    private sealed record Pending(long Id, string To, string Subject, string Body, int Attempts);
}
