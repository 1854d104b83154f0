using Dapper;
using MediatR;
using Npgsql;

namespace Analytics.Api.Features.Reports.Maintenance;

/// <summary>
/// Hourly upkeep: event partitions ahead of time, and removal of what is no longer needed: sessions expired or
/// revoked for 30 days (with their refresh tokens; each user's last seen one stays), activation tokens spent or expired for 30 days, outbox mail
/// (sent or given up) after 7 days, and retry-idempotency ids after 30 days.
/// </summary>
public static class RunMaintenance
{
    public sealed record Command : IRequest<Result>;

    public sealed record Result(int Partitions, int Sessions, int ActivationTokens, int OutboxMails, int EventIds);

    internal sealed class Handler(NpgsqlDataSource db, TimeProvider clock) : IRequestHandler<Command, Result>
    {
        private const string PartitionSql = "select ensure_events_partition(@At)";

        // Each user's most recently seen session stays, ended or not: it is where the admin's "last seen" comes from.
        private const string SessionsSql = """
            delete from sessions s
            where (s.expires_at < @Now - interval '30 days' or s.revoked_at < @Now - interval '30 days')
              and exists (select 1 from sessions n where n.user_id = s.user_id and (n.last_seen_at, n.id) > (s.last_seen_at, s.id))
            """;

        // Kept a month after use or expiry, so that an old link still answers 410 (used / expired) rather than 400 for that long.
        private const string ActivationSql = "delete from activation_tokens where expires_at < @Now - interval '30 days' or used_at < @Now - interval '30 days'";

        // Sent mail after 7 days, and unsent mail of that age: its retries ended hours after it was written.
        private const string OutboxSql = "delete from outbox where created_at < @Now - interval '7 days' and (sent_at is not null or next_attempt_at is null or next_attempt_at < @Now)";

        private const string EventIdsSql = "delete from event_ids where received_at < @Now - interval '30 days'";

        public async Task<Result> Handle(Command request, CancellationToken cancellationToken)
        {
            var now = clock.GetUtcNow();
            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            for (var month = 0; month <= 2; month++)
            {
                await connection.ExecuteAsync(new CommandDefinition(PartitionSql, new { At = now.AddMonths(month) }, cancellationToken: cancellationToken));
            }

            var at = new { Now = now };
            return new Result(
                3,
                await connection.ExecuteAsync(new CommandDefinition(SessionsSql, at, cancellationToken: cancellationToken)),
                await connection.ExecuteAsync(new CommandDefinition(ActivationSql, at, cancellationToken: cancellationToken)),
                await connection.ExecuteAsync(new CommandDefinition(OutboxSql, at, cancellationToken: cancellationToken)),
                await connection.ExecuteAsync(new CommandDefinition(EventIdsSql, at, cancellationToken: cancellationToken)));
        }
    }
}
