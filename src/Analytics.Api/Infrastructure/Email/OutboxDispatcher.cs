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
/// Delivers pending outbox rows through <see cref="IEmailSender"/>. Rows are claimed with SKIP LOCKED, so several
/// nodes share the work without sending a mail twice; a failed send is retried on a later pass.
/// </summary>
internal sealed partial class OutboxDispatcher(NpgsqlDataSource db, IEmailSender sender, IOptions<EmailOptions> options, TimeProvider clock, ILogger<OutboxDispatcher> logger) : BackgroundService
{
    private const string ClaimSql = """
        select id as Id, recipient as To, subject as Subject, body as Body
        from outbox
        where sent_at is null and attempts < @MaxAttempts
        order by id
        limit @BatchSize
        for update skip locked
        """;

    private const string SentSql = """
        update outbox set sent_at = @Now, attempts = attempts + 1,
            body = case when @KeepBody then body else '(delivered; body removed)' end
        where id = @Id
        """;

    private const string FailedSql = "update outbox set attempts = attempts + 1, last_error = @Error where id = @Id";

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
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var batch = (await connection.QueryAsync<Pending>(new CommandDefinition(ClaimSql, new { options.Value.MaxAttempts, options.Value.BatchSize }, transaction, cancellationToken: ct))).ToList();
        foreach (var mail in batch)
        {
            try
            {
                await sender.SendAsync(new OutgoingEmail(mail.To, mail.Subject, mail.Body), ct);
                await connection.ExecuteAsync(new CommandDefinition(SentSql, new { mail.Id, Now = clock.GetUtcNow(), KeepBody = options.Value.KeepSentBodies }, transaction, cancellationToken: ct));
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogSendFailed(mail.Id, ex.Message);
                await connection.ExecuteAsync(new CommandDefinition(FailedSql, new { mail.Id, Error = ex.Message }, transaction, cancellationToken: ct));
            }
        }

        await transaction.CommitAsync(ct);
        return batch.Count;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox: PostgreSQL unavailable ({Reason}); retrying")]
    private partial void LogUnavailable(string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox: sending mail {Id} failed: {Reason}")]
    private partial void LogSendFailed(long id, string reason);

    private sealed record Pending(long Id, string To, string Subject, string Body);
}
