using System.Globalization;
using Analytics.Api.Infrastructure.Email;
using Analytics.Api.Infrastructure.Messaging;
using Dapper;
using MediatR;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Analytics.Api.Features.Reports.Alerts;

/// <summary>
/// The alert check (every <c>Jobs:AlertInterval</c>): counts failed sign-ins in the last window globally, per IP and
/// per account, opens one alert per incident, keeps open alerts' counts current and closes those whose rate fell
/// back. A new alert is mailed to every active admin in the transaction that opens it, and pushed to admins' live
/// streams after the commit.
/// </summary>
public static class CheckAlerts
{
    public sealed record Command : IRequest<Result>;

    public sealed record Result(IReadOnlyList<Alert> Opened, int Updated, int Closed);

    internal sealed class Handler(NpgsqlDataSource db, IEventBus bus, IOptions<AlertsOptions> options, TimeProvider clock) : IRequestHandler<Command, Result>
    {
        // Runs on two nodes (or a job and a manual send) take turns; the unique open-alert index guards opening anyway.
        private const string LockSql = "select pg_advisory_xact_lock(hashtext('check_alerts'))";

        // Refused sign-ins count with wrong ones: under attack most attempts are throttled, not checked.
        // Throttled attempts name only the e-mail, so an existing account is resolved to its id. An address counts as
        // the sign-in limit counts it (ClientContext.LimitKey): IPv6 by its /64 network, IPv4-mapped as IPv4.
        private const string WindowCountsSql = """
            with failures as (
                select case when family(a.ip) = 4 then host(a.ip)
                            when a.ip <<= '::ffff:0.0.0.0/96' then substr(host(a.ip), 8)
                            else text(network(set_masklen(a.ip, 64))) end as ip,
                       coalesce(a.user_id::text, u.id::text, a.details->>'email') as account
                from activity_log a
                left join users u on a.user_id is null and u.email = (a.details->>'email')::citext
                where a.kind in ('login_failed', 'login_throttled') and a.occurred_at > @WindowStart and a.occurred_at <= @Now
            )
            select 'global' as Scope, '' as Subject, count(*) as Count from failures
            union all
            select 'ip', ip, count(*) from failures where ip is not null group by ip having count(*) >= @IpKeep or ip = any(@OpenIps)
            union all
            select 'account', account, count(*) from failures where account is not null group by account having count(*) >= @AccountKeep or account = any(@OpenAccounts)
            """;

        private const string BaselineSql = """
            select count(*) from activity_log
            where kind in ('login_failed', 'login_throttled') and occurred_at > @BaselineStart and occurred_at <= @WindowStart
            """;

        private const string OpenAlertsSql = "select id as Id, scope as Scope, subject as Subject from alerts where closed_at is null for update";

        private const string UpdateSql = "update alerts set window_count = @Count, peak_count = greatest(peak_count, @Count) where id = @Id";

        private const string CloseSql = "update alerts set window_count = @Count, closed_at = @Now where id = @Id";

        private const string OpenSql = """
            insert into alerts (id, scope, subject, opened_at, window_count, threshold, baseline, peak_count)
            values (@Id, @Scope, @Subject, @Now, @Count, @Threshold, @Baseline, @Count)
            on conflict (scope, subject) where closed_at is null do nothing
            returning id
            """;

        private const string ViewSql = $"select {Alert.Columns} from {Alert.From} where a.id = @Id";

        private const string AdminsSql = "select email::text from users where role = 'admin' and status = 'active' order by email";

        public async Task<Result> Handle(Command request, CancellationToken cancellationToken)
        {
            var o = options.Value;
            var now = clock.GetUtcNow();
            var windowStart = now - o.Window;
            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await connection.ExecuteAsync(new CommandDefinition(LockSql, transaction: transaction, cancellationToken: cancellationToken));

            var open = (await connection.QueryAsync<OpenAlert>(new CommandDefinition(OpenAlertsSql, transaction: transaction, cancellationToken: cancellationToken))).ToList();

            // Subjects below the keep mark are left out, except open ones: a closing alert records its real last count.
            var counts = (await connection.QueryAsync<SubjectCount>(new CommandDefinition(
                    WindowCountsSql,
                    new
                    {
                        WindowStart = windowStart,
                        Now = now,
                        IpKeep = Keep(o, Alert.Ip),
                        AccountKeep = Keep(o, Alert.Account),
                        OpenIps = open.Where(a => a.Scope == Alert.Ip).Select(a => a.Subject).ToArray(),
                        OpenAccounts = open.Where(a => a.Scope == Alert.Account).Select(a => a.Subject).ToArray(),
                    },
                    transaction,
                    cancellationToken: cancellationToken)))
                .ToDictionary(c => (c.Scope, c.Subject), c => c.Count);

            int updated = 0, closed = 0;
            foreach (var alert in open)
            {
                var count = counts.GetValueOrDefault((alert.Scope, alert.Subject));
                var stillHigh = count >= o.CloseBelow(alert.Scope);
                await connection.ExecuteAsync(new CommandDefinition(stillHigh ? UpdateSql : CloseSql, new { alert.Id, Count = count, Now = now }, transaction, cancellationToken: cancellationToken));
                if (stillHigh)
                {
                    updated++;
                }
                else
                {
                    closed++;
                }
            }

            var opened = new List<Alert>();
            var alreadyOpen = open.Select(a => (a.Scope, a.Subject)).ToHashSet();
            foreach (var ((scope, subject), count) in counts.OrderBy(c => c.Key.Scope, StringComparer.Ordinal).ThenBy(c => c.Key.Subject, StringComparer.Ordinal))
            {
                var threshold = o.ThresholdOf(scope);
                if (count < threshold || alreadyOpen.Contains((scope, subject)))
                {
                    continue;
                }

                double? baseline = null;
                if (scope == Alert.Global)
                {
                    var before = await connection.ExecuteScalarAsync<long>(new CommandDefinition(BaselineSql, new { BaselineStart = windowStart - o.BaselineWindow, WindowStart = windowStart }, transaction, cancellationToken: cancellationToken));
                    baseline = before * (o.Window / o.BaselineWindow);
                    if (count <= o.BaselineMultiple * baseline)
                    {
                        continue;
                    }
                }

                var id = await connection.ExecuteScalarAsync<Guid?>(new CommandDefinition(
                    OpenSql,
                    new { Id = Guid.CreateVersion7(), Scope = scope, Subject = subject, Now = now, Count = count, Threshold = (long)threshold, Baseline = baseline },
                    transaction,
                    cancellationToken: cancellationToken));
                if (id is { } newId)
                {
                    opened.Add((await connection.QuerySingleAsync<Alert.Row>(new CommandDefinition(ViewSql, new { Id = newId }, transaction, cancellationToken: cancellationToken))).ToAlert());
                }
            }

            if (opened.Count > 0)
            {
                var admins = (await connection.QueryAsync<string>(new CommandDefinition(AdminsSql, transaction: transaction, cancellationToken: cancellationToken))).ToList();
                foreach (var alert in opened)
                {
                    foreach (var admin in admins)
                    {
                        await Outbox.EnqueueAsync(connection, transaction, Mail(admin, alert, o), now, cancellationToken);
                    }
                }
            }

            await transaction.CommitAsync(cancellationToken);

            // Best effort, like every bus message: the alert and its mails are already committed.
            foreach (var alert in opened)
            {
                await bus.PublishAsync(Alert.Topic, alert, CancellationToken.None);
            }

            return new Result(opened, updated, closed);
        }

        // Only counts that can keep an alert open or open one matter; the rest of the per-IP and per-account groups are noise.
        private static long Keep(AlertsOptions o, string scope) => (long)Math.Ceiling(o.CloseBelow(scope));

        private static OutgoingEmail Mail(string to, Alert alert, AlertsOptions o)
        {
            var what = alert.Scope switch
            {
                Alert.Ip => $"from IP {alert.Subject}",
                Alert.Account => $"on the account {alert.Email}",
                _ => "across the service",
            };
            var baseline = alert.Baseline is { } b ? string.Create(CultureInfo.InvariantCulture, $" The usual rate is {b:0.##} per {o.Window.TotalMinutes:0.##} minutes.") : "";
            return new OutgoingEmail(
                to,
                $"Alert: {alert.WindowCount} failed sign-ins {what}",
                string.Create(CultureInfo.InvariantCulture, $"""
                    {alert.WindowCount} failed sign-ins {what} in the last {o.Window.TotalMinutes:0.##} minutes (threshold {alert.Threshold}).{baseline}

                    Opened at {alert.OpenedAt:yyyy-MM-dd HH:mm:ss} UTC. Alert id: {alert.Id}
                    Open alerts: GET /api/v1/admin/alerts?status=open; acknowledge with POST /api/v1/admin/alerts/{alert.Id}/acknowledge.
                    """));
        }

        private sealed record SubjectCount(string Scope, string Subject, long Count);

        private sealed record OpenAlert(Guid Id, string Scope, string Subject);
    }
}
