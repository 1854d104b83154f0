using Analytics.Api.Infrastructure.Activity;
using Analytics.Api.Infrastructure.Jobs;
using Dapper;
using MediatR;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Analytics.Api.Features.Reports.Maintenance;

/// <summary>
/// Hourly upkeep: removal of what is no longer needed, then event partitions ahead of time. Removed: sessions expired
/// or revoked for 30 days (with their refresh tokens; each user's last seen one stays), activation tokens spent or
/// expired for 30 days, outbox mail (sent or given up) after 7 days, retry-idempotency ids after 30 days, per-minute
/// rollups after 8 days (the dashboard's windows reach 7 days back) and account activity after
/// <see cref="JobsOptions.ActivityRetention"/>. Deletes go in batches, each its own transaction, so a large backlog
/// (the first run after an upgrade, a week of heavy ingestion) neither holds locks nor bloats one transaction.
/// </summary>
public static class RunMaintenance
{
    public sealed record Command : IRequest<Result>;

    public sealed record Result(int Partitions, int Sessions, int ActivationTokens, int OutboxMails, int EventIds, int RollupMinutes, int ActivityEntries);

    internal const int BatchSize = 10_000;

    internal sealed class Handler(NpgsqlDataSource db, TimeProvider clock, IOptions<JobsOptions> options) : IRequestHandler<Command, Result>
    {
        private const string PartitionSql = "select ensure_events_partition(@At)";

        // Each user's most recently seen session stays, ended or not: it is where the admin's "last seen" comes from.
        private const string SessionsSql = """
            select s.ctid from sessions s
            where (s.expires_at < @Now - interval '30 days' or s.revoked_at < @Now - interval '30 days')
              and exists (select 1 from sessions n where n.user_id = s.user_id and (n.last_seen_at, n.id) > (s.last_seen_at, s.id))
            """;

        // Kept a month after use or expiry, so that an old link still answers 410 (used / expired) rather than 400 for that long.
        private const string ActivationSql = "select ctid from activation_tokens where expires_at < @Now - interval '30 days' or used_at < @Now - interval '30 days'";

        // Sent mail after 7 days, and unsent mail of that age: its retries ended hours after it was written.
        private const string OutboxSql = "select ctid from outbox where created_at < @Now - interval '7 days' and (sent_at is not null or next_attempt_at is null or next_attempt_at < @Now)";

        private const string EventIdsSql = "select ctid from event_ids where received_at < @Now - interval '30 days'";

        // Both through an index's leading columns (rollup_minutely's key, activity_log_kind_time), one range per metric or kind.
        private const string MinutesSql = "select ctid from rollup_minutely where metric in ('failed_logins', 'registrations') and bucket < @Now - interval '8 days'";

        private const string ActivitySql = "select ctid from activity_log where kind = any(@Kinds) and occurred_at < @Now - @ActivityRetention";

        private static readonly string[] Kinds = [.. Enum.GetValues<ActivityKind>().Select(ActivityLog.KindName)];

        public async Task<Result> Handle(Command request, CancellationToken cancellationToken)
        {
            var now = clock.GetUtcNow();
            var at = new { Now = now, options.Value.ActivityRetention, Kinds };
            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            Task<int> Delete(string table, string rows) => DeleteInBatchesAsync(connection, table, rows, at, cancellationToken);
            var result = new Result(
                3,
                await Delete("sessions", SessionsSql),
                await Delete("activation_tokens", ActivationSql),
                await Delete("outbox", OutboxSql),
                await Delete("event_ids", EventIdsSql),
                await Delete("rollup_minutely", MinutesSql),
                await Delete("activity_log", ActivitySql));

            // Last, so that a partition that cannot be created now (its lock wait timed out) stops nothing else.
            for (var month = 0; month <= 2; month++)
            {
                await connection.ExecuteAsync(new CommandDefinition(PartitionSql, new { At = now.AddMonths(month) }, cancellationToken: cancellationToken));
            }

            return result;
        }

        /// <summary>Deletes the rows <paramref name="rowsSql"/> selects (by ctid), <see cref="BatchSize"/> per statement.</summary>
        private static async Task<int> DeleteInBatchesAsync(NpgsqlConnection connection, string table, string rowsSql, object parameters, CancellationToken ct)
        {
            var sql = $"delete from {table} where ctid = any(array({rowsSql} limit {BatchSize}))";
            var total = 0;
            int deleted;
            do
            {
                deleted = await connection.ExecuteAsync(new CommandDefinition(sql, parameters, cancellationToken: ct));
                total += deleted;
            }
            while (deleted == BatchSize);

            return total;
        }
    }
}
