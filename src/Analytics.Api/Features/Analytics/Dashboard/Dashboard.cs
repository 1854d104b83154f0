using System.Text.Json;
using Analytics.Api.Infrastructure.Caching;
using Analytics.Api.Infrastructure.Database;
using Analytics.Api.Infrastructure.Http;
using Analytics.Api.Infrastructure.OpenApi;
using Dapper;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Analytics.Api.Features.Analytics.Dashboard;

public sealed class DashboardOptions
{
    public const string Section = "Dashboard";

    /// <summary>How long an answer is cached per filter combination; 0 turns the cache off.</summary>
    public TimeSpan CacheFor { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// How long a node reuses the cache generation and the cached answers it has read (no Redis round trip): a
    /// change made through another node shows there within this time, one made through this node at once. 0 turns
    /// the node-local copies off.
    /// </summary>
    public TimeSpan LocalCacheFor { get; set; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// <c>GET /admin/dashboard</c>: headline numbers and per-day series for a role and a window. Multi-day figures come
/// from rollups, never from raw events. Answers are cached per filter; registrations, role and status changes
/// and every rollup run with new data make them stale, so high-rate activity shows within a rollup interval.
/// </summary>
public static class Dashboard
{
    public static readonly string[] Presets = ["24h", "7d", "30d", "90d"];
    public static readonly string[] RoleFilters = ["all", "user", "admin"];

    public sealed record Query(string? Role, string? Preset, DateTimeOffset? From, DateTimeOffset? To) : IRequest<Utf8Json<Response>>;

    public sealed record Window(DateTimeOffset From, DateTimeOffset To);

    public sealed record Metric(long Value, Window Window);

    public sealed record Totals(Metric TotalUsers, Metric ActiveUsers7d, Metric FailedLogins24h, Metric NewUsers7d);

    public sealed record Day(DateOnly Date, long Logins, long FailedLogins, long Registrations, long Events);

    public sealed record Response(string Role, Window Window, Totals Totals, IReadOnlyList<Day> Series, bool FromCache, DateTimeOffset ComputedAt);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator(TimeProvider clock)
        {
            RuleFor(q => q.Role).Must(r => r is null || RoleFilters.Contains(r)).WithMessage("Role must be one of: all, user, admin.");
            RuleFor(q => q.Preset).Must(p => p is null || Presets.Contains(p)).WithMessage("Preset must be one of: 24h, 7d, 30d, 90d.");
            RuleFor(q => q).Must(q => q.Preset is null || (q.From is null && q.To is null))
                .WithName("preset").WithMessage("Send either a preset or from/to, not both.");
            this.PeriodRules(q => Handler.Resolve(q, clock.GetUtcNow()), "from", "to", $"The window may span at most {ReportingPeriod.MaxDays} days.");
        }
    }

    internal sealed class Handler(NpgsqlDataSource db, ICache cache, LocalCopies copies, AnalyticsGenerations generations, IOptions<DashboardOptions> options, IOptions<JsonOptions> json, AnalyticsReads reads, TimeProvider clock)
        : IRequestHandler<Query, Utf8Json<Response>>
    {
        // The headline numbers in one statement; with the series below, one round trip to the database. Every part
        // is an index lookup of a few rows. The rollups are exact before the last run's watermark less the overlap it
        // re-reads ("at"): whole hours come from rollup_hourly, whole minutes around them from rollup_minutely, and only
        // the first partial minute and the rows after "at" from the raw tables, so the counts equal counting the raw
        // rows. For each window (since, now]:
        //   raw (since, minutes) + minutes [minutes, least(first hour, minute cut)) + hours [first hour, hour cut)
        //   + minutes [greatest(first hour, hour cut), minute cut) + raw [greatest(minutes, minute cut), now].
        // A row that arrives for a time the rollups already finished (a transaction open longer than
        // RollupWatermark.Overlap) is counted when the rollups count it. Active users: the role's row of the latest
        // window, the one that "all" always has; a role without a row there had nobody active in it (0).
        private const string TotalsSql = $"""
            with cuts as (
                select date_trunc('hour', at, 'UTC') as hours_until, date_trunc('minute', at, 'UTC') as minutes_until
                from (select coalesce(({RollupWatermark.Sql}), '-infinity') - @Overlap as at) rolled
            ), edges as (
                select @DaySince::timestamptz as since, @DayMinutes::timestamptz as minutes, least(@DayHours, minutes_until) as minutes_stop,
                       @DayHours::timestamptz as first, greatest(@DayHours, hours_until) as hours_stop, minutes_until,
                       greatest(@DayMinutes, minutes_until) as raw_from, 'failed_logins' as metric
                from cuts
                union all
                select @WeekSince, @WeekMinutes, least(@WeekHours, minutes_until), @WeekHours, greatest(@WeekHours, hours_until), minutes_until,
                       greatest(@WeekMinutes, minutes_until), 'registrations'
                from cuts
            ), rolled as (
                select e.metric,
                       (select coalesce(sum(r.value), 0) from rollup_hourly r
                        where r.metric = e.metric and r.bucket >= e.first and r.bucket < e.hours_stop and (@Role is null or r.role = @Role))
                       + (select coalesce(sum(m.value), 0) from rollup_minutely m
                          where m.metric = e.metric and m.bucket >= e.minutes and m.bucket < e.minutes_stop and (@Role is null or m.role = @Role))
                       + (select coalesce(sum(m.value), 0) from rollup_minutely m
                          where m.metric = e.metric and m.bucket >= e.hours_stop and m.bucket < e.minutes_until and (@Role is null or m.role = @Role)) as value
                from edges e
            )
            select (select coalesce(sum(total), 0) from user_counts where @Role is null or role = @Role)::bigint as TotalUsers,
                   coalesce((select w.value from rollup_active_window w
                             where w.days = 7 and w.role = coalesce(@Role, 'all')
                               and w.as_of = (select max(a.as_of) from rollup_active_window a where a.days = 7 and a.role = 'all' and a.as_of <= @Today)), 0) as ActiveUsers,
                   (select value from rolled where metric = 'failed_logins')::bigint
                   + (select count(*) from activity_log a left join users u on u.id = a.user_id, edges e
                      where e.metric = 'failed_logins' and a.kind = 'login_failed' and a.occurred_at > e.since and a.occurred_at < e.minutes
                        and (@Role is null or u.role = @Role))
                   + (select count(*) from activity_log a left join users u on u.id = a.user_id, edges e
                      where e.metric = 'failed_logins' and a.kind = 'login_failed' and a.occurred_at >= e.raw_from and (@Role is null or u.role = @Role)) as FailedLogins,
                   (select value from rolled where metric = 'registrations')::bigint
                   + (select count(*) from users u, edges e
                      where e.metric = 'registrations' and u.created_at > e.since and u.created_at < e.minutes and (@Role is null or u.role = @Role))
                   + (select count(*) from users u, edges e
                      where e.metric = 'registrations' and u.created_at >= e.raw_from and (@Role is null or u.role = @Role)) as NewUsers;
            """;

        // Planning the statements above costs more than running them, and the custom plans PostgreSQL would otherwise
        // keep making for every call gain nothing: every range comes from a parameter or the watermark. The three
        // statements go in one batch (one Sync), which PostgreSQL runs as one implicit transaction: SET LOCAL holds for
        // the batch without a BEGIN and a COMMIT round trip (the logged plans show parameters, so they are generic).
        private const string GenericPlansSql = "set local plan_cache_mode = force_generic_plan;";

        // Whole days from rollup_daily, the partial first and last days from rollup_hourly.
        private const string SeriesSql = """
            select day as Day,
                   coalesce(sum(value) filter (where metric = 'logins'), 0)::bigint as Logins,
                   coalesce(sum(value) filter (where metric = 'failed_logins'), 0)::bigint as FailedLogins,
                   coalesce(sum(value) filter (where metric = 'registrations'), 0)::bigint as Registrations,
                   coalesce(sum(value) filter (where metric = 'events'), 0)::bigint as Events
            from (
                select day, metric, value from rollup_daily
                where metric in ('logins', 'failed_logins', 'registrations', 'events') and day >= @FirstDay and day < @EndDay
                  and (@Role is null or role = @Role)
                union all
                select (bucket at time zone 'UTC')::date, metric, value from rollup_hourly
                where metric in ('logins', 'failed_logins', 'registrations', 'events') and bucket >= @From and bucket < @DaysFrom
                  and (@Role is null or role = @Role)
                union all
                select (bucket at time zone 'UTC')::date, metric, value from rollup_hourly
                where metric in ('logins', 'failed_logins', 'registrations', 'events') and bucket >= @DaysTo and bucket < @To
                  and (@Role is null or role = @Role)
            ) counted
            group by day
            """;

        public async Task<Utf8Json<Response>> Handle(Query request, CancellationToken cancellationToken)
        {
            var role = request.Role is null or "all" ? null : request.Role;
            var (ttl, localFor) = (options.Value.CacheFor, options.Value.LocalCacheFor);
            var serializer = json.Value.SerializerOptions;
            if (ttl <= TimeSpan.Zero)
            {
                return Utf8Json.Serialize(await reads.RunAsync(ct => ComputeAsync(request, role, ct), cancellationToken), serializer);
            }

            // Entries hold the answer as the endpoint writes it (fromCache true), so a hit is written as stored.
            var generation = await generations.RecentAsync(AnalyticsGenerations.Dashboard, localFor, cancellationToken);
            var key = $"dashboard:v2:g{generation}:{request.Role ?? "all"}:{request.Preset}:{request.From?.UtcTicks}:{request.To?.UtcTicks}";
            if (copies.TryGet(key, out var copy))
            {
                return new Utf8Json<Response>(copy);
            }

            Response? computed = null;
            var (stored, fromCache) = await cache.GetOrCreateAsync(key, ttl, async ct =>
            {
                computed = await reads.RunAsync(token => ComputeAsync(request, role, token), ct);
                return JsonSerializer.SerializeToUtf8Bytes(computed with { FromCache = true }, serializer);
            }, cancellationToken);
            copies.Set(key, stored, localFor);
            return fromCache || computed is null ? new Utf8Json<Response>(stored) : Utf8Json.Serialize(computed, serializer);
        }

        private async Task<Response> ComputeAsync(Query request, string? role, CancellationToken ct)
        {
            var now = clock.GetUtcNow();
            var period = Resolve(request, now);
            var window = new Window(period.From, period.To);
            var today = DateOnly.FromDateTime(now.UtcDateTime);
            var sevenDays = new Window(now.AddDays(-7), now);
            // Active users are counted by whole UTC days (rollup_active_window): today and the six before it.
            var activeDays = new Window(StartOf(today.AddDays(-6)), now);
            var day = new Window(now.AddDays(-1), now);

            // Whole UTC hours, so that the rollups answer exactly: every hour the half-open window touches (not the hour
            // that starts at its end); whole UTC days of them from the daily sums.
            var from = ReportingPeriod.StartOfHour(window.From);
            var to = window.To > window.From ? ReportingPeriod.StartOfHour(window.To.AddTicks(-1)).AddHours(1) : from;
            var firstDay = DateOnly.FromDateTime(from.UtcDateTime.AddTicks(TimeSpan.TicksPerDay - 1));
            var endDay = DateOnly.FromDateTime(to.UtcDateTime);
            var (daysFrom, daysTo) = firstDay < endDay ? (StartOf(firstDay), StartOf(endDay)) : (to, to);
            firstDay = firstDay < endDay ? firstDay : endDay;

            await using var connection = await db.OpenConnectionAsync(ct);
            await using var results = await connection.QueryMultipleAsync(new CommandDefinition(
                GenericPlansSql + TotalsSql + SeriesSql,
                new
                {
                    Role = role,
                    Today = today,
                    WatermarkName = RollupWatermark.Name,
                    RollupWatermark.Overlap,
                    DaySince = day.From,
                    DayMinutes = ReportingPeriod.StartOfMinute(day.From).AddMinutes(1),
                    DayHours = ReportingPeriod.StartOfHour(day.From).AddHours(1),
                    WeekSince = sevenDays.From,
                    WeekMinutes = ReportingPeriod.StartOfMinute(sevenDays.From).AddMinutes(1),
                    WeekHours = ReportingPeriod.StartOfHour(sevenDays.From).AddHours(1),
                    From = from,
                    To = to,
                    FirstDay = firstDay,
                    EndDay = endDay,
                    DaysFrom = daysFrom,
                    DaysTo = daysTo,
                },
                cancellationToken: ct));
            var (total, active, failed, newUsers) = await results.ReadSingleAsync<(long, long, long, long)>();
            var rows = (await results.ReadAsync<DayRow>()).ToDictionary(r => r.Day);
            var series = new ReportingPeriod(from, to).Days()
                .Select(d => rows.TryGetValue(d, out var r) ? new Day(d, r.Logins, r.FailedLogins, r.Registrations, r.Events) : new Day(d, 0, 0, 0, 0))
                .ToList();

            var totals = new Totals(new Metric(total, new Window(DateTimeOffset.UnixEpoch, now)), new Metric(active, activeDays), new Metric(failed, day), new Metric(newUsers, sevenDays));
            return new Response(request.Role ?? "all", window, totals, series, false, now);
        }

        internal static ReportingPeriod Resolve(Query request, DateTimeOffset now)
        {
            var span = request.Preset switch
            {
                "24h" => TimeSpan.FromHours(24),
                "30d" => TimeSpan.FromDays(30),
                "90d" => TimeSpan.FromDays(90),
                _ => TimeSpan.FromDays(7),
            };
            return ReportingPeriod.Resolve(request.From, request.To, now, span);
        }

        private static DateTimeOffset StartOf(DateOnly day) => new(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);

        private sealed record DayRow(DateOnly Day, long Logins, long FailedLogins, long Registrations, long Events);
    }

    public static RouteHandlerBuilder Map(IEndpointRouteBuilder admin) =>
        admin.MapGet("/dashboard", Endpoint)
            .WithName("Dashboard")
            .WithSummary("Total users, active users (7 days), failed logins (24 h), new users (7 days), and per-day series for a window.")
            .WithDescription("role: all | user | admin. Window: preset (24h, 7d, 30d, 90d; default 7d) or from/to. Each metric states its window; fromCache and computedAt say how fresh the answer is.")
            .ProducesErrors(400, 401, 403);

    private static async Task<Utf8Json<Response>> Endpoint(IMediator mediator, CancellationToken ct, string? role = null, string? preset = null, DateTimeOffset? from = null, DateTimeOffset? to = null) =>
        await mediator.Send(new Query(role, preset, from, to), ct);
}
