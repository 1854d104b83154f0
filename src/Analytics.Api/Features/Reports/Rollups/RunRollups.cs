using Analytics.Api.Features.Reports.DailyReport;
using Analytics.Api.Infrastructure.Caching;
using Analytics.Api.Infrastructure.Database;
using Dapper;
using MediatR;
using Npgsql;

namespace Analytics.Api.Features.Reports.Rollups;

/// <summary>
/// Brings the hourly rollups (with per-minute counts of failed logins and sign-ups), the daily active-user sets, the
/// 7-day active-user counts and the feature-click rollups up to date. It finds the hours touched since it last ran
/// (by arrival time, so late events for old hours are not missed) and recomputes those hours from the raw rows:
/// running it twice, or after downtime, gives the same result. Stored daily reports of the past days it recomputed
/// (late events) are rebuilt in the same transaction.
/// </summary>
public static class RunRollups
{
    public sealed record Command : IRequest<Rollups.Result>;

    internal sealed class Handler(Rollups rollups) : IRequestHandler<Command, Rollups.Result>
    {
        public Task<Rollups.Result> Handle(Command request, CancellationToken cancellationToken) => rollups.RunAsync(cancellationToken);
    }
}

/// <summary>The rollup computation, shared by the rollup job and the daily report (which needs them current).</summary>
public sealed class Rollups(NpgsqlDataSource db, AnalyticsGenerations generations, DailyReports reports, TimeProvider clock)
{
    /// <summary>What a run did; <paramref name="Reports"/>: the daily reports it built.</summary>
    public sealed record Result(int HoursRecomputed, int DaysRecomputed, DateTimeOffset Watermark, IReadOnlyList<DailyReport.DailyReport.Report> Reports);

    /// <summary>
    /// Per statement, instead of the connection's 30 s: a catch-up after downtime or a migration that rebuilds history
    /// recomputes millions of events, and a timed-out run rolls back and leaves the same work (and more) to the next
    /// one, for ever. Daily reports are built in the same transaction and get the same bound.
    /// </summary>
    private const int CatchUpSeconds = 3600;

    /// <summary>A statement of the rollups' transaction, with <see cref="CatchUpSeconds"/> for its timeout.</summary>
    internal static CommandDefinition Step(string sql, object? parameters, NpgsqlTransaction transaction, CancellationToken ct) =>
        new(sql, parameters, transaction, commandTimeout: CatchUpSeconds, cancellationToken: ct);

    private const string LockSql = "select pg_advisory_xact_lock(hashtext('run_rollups'))";

    private const string SaveWatermarkSql = """
        insert into job_watermarks (name, watermark) values (@Name, @Watermark)
        on conflict (name) do update set watermark = excluded.watermark
        """;

    // Every hour with a row that arrived since `from`: events by arrival, account activity and sign-ups by their own time.
    private const string TouchedHoursSql = """
        select distinct date_trunc('hour', occurred_at, 'UTC') from events where received_at >= @From
        union
        select distinct date_trunc('hour', occurred_at, 'UTC') from activity_log where occurred_at >= @From and kind in ('login', 'login_failed')
        union
        select distinct date_trunc('hour', created_at, 'UTC') from users where created_at >= @From
        """;

    private const string ClearHoursSql = "delete from rollup_hourly where bucket = any(@Hours)";

    // Failed logins and sign-ups are the sums of their minutes (RecomputeMinutesSql runs first): the raw rows are read once.
    private const string RecomputeHoursSql = """
        with hours as (select unnest(@Hours) as h)
        insert into rollup_hourly (bucket, metric, role, dimension, value)
        select h, 'logins', coalesce(u.role, 'none'), '', count(*)
        from hours join activity_log a on a.kind = 'login' and a.occurred_at >= h and a.occurred_at < h + interval '1 hour'
        left join users u on u.id = a.user_id
        group by h, u.role
        union all
        select h, m.metric, m.role, '', sum(m.value)::bigint
        from hours join rollup_minutely m on m.metric in ('failed_logins', 'registrations') and m.bucket >= h and m.bucket < h + interval '1 hour'
        group by h, m.metric, m.role
        union all
        select h, 'events', coalesce(u.role, 'none'), e.type, count(*)
        from hours join events e on e.occurred_at >= h and e.occurred_at < h + interval '1 hour'
        left join users u on u.id = e.user_id
        group by h, u.role, e.type
        union all
        select h, 'feature_clicks', coalesce(u.role, 'none'), e.name, count(*)
        from hours join events e on e.type = 'feature_click' and e.occurred_at >= h and e.occurred_at < h + interval '1 hour'
        left join users u on u.id = e.user_id
        where e.name is not null
        group by h, u.role, e.name
        """;

    // Per-minute counts of the two dashboard totals that start and end inside an hour (migration 0011).
    private const string RecomputeMinutesSql = """
        delete from rollup_minutely m using unnest(@Hours) h
        where m.metric in ('failed_logins', 'registrations') and m.bucket >= h and m.bucket < h + interval '1 hour';

        insert into rollup_minutely (bucket, metric, role, value)
        select date_trunc('minute', a.occurred_at), 'failed_logins', coalesce(u.role, 'none'), count(*)
        from unnest(@Hours) h join activity_log a on a.kind = 'login_failed' and a.occurred_at >= h and a.occurred_at < h + interval '1 hour'
        left join users u on u.id = a.user_id
        group by 1, 3
        union all
        select date_trunc('minute', u.created_at), 'registrations', u.role, count(*)
        from unnest(@Hours) h join users u on u.created_at >= h and u.created_at < h + interval '1 hour'
        group by 1, 3;
        """;

    // The feature clicks that occurred in the hours @Hours (h: the hour), for the statements below. They join their hour
    // twice, by range and by the truncated hour: the range gives the few hours of a routine run index scans, the equality
    // lets PostgreSQL merge-join hundreds of hours (the seed's, a backfill's) in one pass, where it planned a nested loop
    // over a materialised copy of every click instead (the feature users of 10M seeded events: 114 s -> 16 s).
    private const string ClicksInHours = "unnest(@Hours) h join events e on e.type = 'feature_click' and e.occurred_at >= h and e.occurred_at < h + interval '1 hour' and date_trunc('hour', e.occurred_at, 'UTC') = h";

    // Feature clicks (see FeatureAnalytics): number the users first, so that their cell and bit exist for the hours below.
    private const string NumberFeatureUsersSql = $"""
        with added as (
            insert into feature_click_users (user_id, age_band, gender)
            select c.user_id, feature_age_band(u.age), coalesce(u.gender, '')
            from (
                select distinct e.user_id from {ClicksInHours}
                where e.user_id is not null and e.name is not null
            ) c
            left join users u on u.id = c.user_id
            -- Only users without a number: the column default takes a number from the sequence for every row offered,
            -- before "on conflict" skips it, so offering the numbered ones again spent the sequence on every run (an
            -- integer one, used up in months) and spread new users' bits over more blocks.
            where not exists (select 1 from feature_click_users f where f.user_id = c.user_id)
            on conflict (user_id) do nothing
            returning n, age_band, gender
        )
        insert into feature_user_masks (age_band, gender, block, users)
        select age_band, gender, n / 65536, feature_users_of(n % 65536) from added group by 1, 2, 3
        on conflict (age_band, gender, block) do update set users = feature_user_masks.users | excluded.users
        """;

    private const string RecomputeFeatureHoursSql = $"""
        delete from feature_clicks_hourly where bucket = any(@Hours);
        delete from feature_users_hourly where bucket = any(@Hours);

        insert into feature_clicks_hourly (bucket, feature, age_band, gender, clicks)
        select h, name, case when grouping(band) = 1 then '*' else band end, case when grouping(gender) = 1 then '*' else gender end, count(*)
        from (
            select h, e.name, coalesce(f.age_band, '') as band, coalesce(f.gender, '') as gender from {ClicksInHours}
            left join feature_click_users f on f.user_id = e.user_id
            where e.name is not null
        ) clicks
        group by h, name, cube (band, gender);

        insert into feature_users_hourly (bucket, feature, block, users)
        select h, coalesce(name, ''), n / 65536, feature_users_of(n % 65536)
        from (
            select distinct h, e.name, f.n from {ClicksInHours}
            join feature_click_users f on f.user_id = e.user_id
            where e.name is not null
        ) clicked
        group by grouping sets ((h, name, n / 65536), (h, n / 65536));
        """;

    private const string RecomputeFeatureDaysSql = """
        delete from feature_clicks_daily where day = any(@Days);
        delete from feature_users_daily where day = any(@Days);

        insert into feature_clicks_daily (day, feature, age_band, gender, clicks)
        select d, c.feature, c.age_band, c.gender, sum(c.clicks)
        from unnest(@Days) d
        join feature_clicks_hourly c on c.bucket >= d::timestamp at time zone 'UTC' and c.bucket < (d + 1)::timestamp at time zone 'UTC'
        group by 1, 2, 3, 4
        having sum(c.clicks) <> 0;

        insert into feature_users_daily (day, feature, block, users)
        select d, u.feature, u.block, bit_or(u.users)
        from unnest(@Days) d
        join feature_users_hourly u on u.bucket >= d::timestamp at time zone 'UTC' and u.bucket < (d + 1)::timestamp at time zone 'UTC'
        group by 1, 2, 3;
        """;

    private const string ClearDaysSql = "delete from rollup_active_users where day = any(@Days)";

    private const string RecomputeDaysSql = """
        with days as (select d, d::timestamp at time zone 'UTC' as since, (d + 1)::timestamp at time zone 'UTC' as until from unnest(@Days) d)
        insert into rollup_active_users (day, user_id, role)
        select distinct on (d, user_id) d, user_id, u.role
        from (
            select d, a.user_id from days join activity_log a
                on a.kind = 'login' and a.occurred_at >= since and a.occurred_at < until and a.user_id is not null
            union
            select d, e.user_id from days join events e
                on e.occurred_at >= since and e.occurred_at < until and e.user_id is not null
        ) active
        join users u on u.id = active.user_id
        order by d, user_id
        """;

    // The trailing 7-day windows ending on each affected day and on today (whose window moves with the clock): how many
    // distinct users (of each role, and of any) were active in (d - 7, d]. A role with nobody active in a window gets
    // no row; "all" always gets one. Two ways to the same numbers: a routine run has one or two windows, cheapest as a
    // distinct count of each window's 7 days (1.6 s for today's at 10M seeded events, against 4 s below); from
    // SpanWindowsFrom windows on, one pass over all their days is cheaper than a count per window (the seed's 61: 52 s -> 17 s).
    private const string CountWindowsSql = """
        with as_of as (select unnest(@AsOf) as d)
        insert into rollup_active_window (as_of, days, role, value)
        select d, 7, coalesce(r.role, 'all'), coalesce(count(distinct r.user_id), 0)
        from as_of left join rollup_active_users r on r.day > d - 7 and r.day <= d
        group by grouping sets ((d, r.role), (d))
        having r.role is not null or grouping(r.role) = 1
        on conflict (as_of, days, role) do update set value = excluded.value
        """;

    // Each (user, day) covers the windows ending in [day, day + 7), cut short where the same user's next active day
    // takes over (least() skips the null of a user's last day), so the spans of one user never overlap; a window's
    // count is the number of spans covering its day: the running sum of +1 where spans start and -1 where they end.
    private const string SpanWindowsSql = """
        with as_of as (select unnest(@AsOf) as d),
        active as (
            select r.day, r.role,
                   least(r.day + 7, lead(r.day) over (partition by r.user_id order by r.day)) as any_until,
                   least(r.day + 7, lead(r.day) over (partition by r.user_id, r.role order by r.day)) as role_until
            from rollup_active_users r
            where r.day > (select min(d) from as_of) - 7 and r.day <= (select max(d) from as_of)
        ), changes as (
            select at, role, sum(delta) as delta
            from (
                select day as at, 'all' as role, 1 as delta from active
                union all select any_until, 'all', -1 from active
                union all select day, role, 1 from active
                union all select role_until, role, -1 from active
            ) spans
            group by at, role
        ), running as (
            select at, role, sum(delta) over (partition by role order by at) as value from changes
        )
        insert into rollup_active_window (as_of, days, role, value)
        select d, 7, w.role, w.value
        from as_of cross join lateral (
            select 'all' as role, coalesce((select value from running where role = 'all' and at <= d order by at desc limit 1), 0)::bigint as value
            union all
            select role, value::bigint
            from (select distinct on (role) role, value from running where role <> 'all' and at <= d order by role, at desc) latest
            where value > 0
        ) w
        on conflict (as_of, days, role) do update set value = excluded.value
        """;

    private const int SpanWindowsFrom = 4;

    // The windows are written anew: a role whose last active user left a window (or changed role) must lose its row,
    // which an upsert of the roles still present would keep.
    private const string ClearWindowsSql = "delete from rollup_active_window where days = 7 and as_of = any(@AsOf)";

    public Task<Result> RunAsync(CancellationToken cancellationToken) => RunAsync([], cancellationToken);

    /// <summary>Brings the rollups up to date, then builds the daily reports of <paramref name="reportDays"/> from them.</summary>
    public async Task<Result> RunAsync(IReadOnlyCollection<DateOnly> reportDays, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(Step(LockSql, null, transaction, cancellationToken));
        var last = await RollupWatermark.ReadAsync(connection, transaction, cancellationToken);
        var from = last is null ? DateTimeOffset.UnixEpoch : last.Value - RollupWatermark.Overlap;

        var hours = (await connection.QueryAsync<DateTime>(Step(TouchedHoursSql, new { From = from }, transaction, cancellationToken)))
            .Select(h => DateTime.SpecifyKind(h, DateTimeKind.Utc)).ToArray();
        var days = hours.Select(h => DateOnly.FromDateTime(h)).Distinct().ToArray();
        if (hours.Length > 0)
        {
            await connection.ExecuteAsync(Step(ClearHoursSql, new { Hours = hours }, transaction, cancellationToken));
            await connection.ExecuteAsync(Step(RecomputeMinutesSql, new { Hours = hours }, transaction, cancellationToken));
            await connection.ExecuteAsync(Step(RecomputeHoursSql, new { Hours = hours }, transaction, cancellationToken));
            await connection.ExecuteAsync(Step(ClearDaysSql, new { Days = days }, transaction, cancellationToken));
            await connection.ExecuteAsync(Step(RecomputeDaysSql, new { Days = days }, transaction, cancellationToken));
            await connection.ExecuteAsync(Step(NumberFeatureUsersSql, new { Hours = hours }, transaction, cancellationToken));
            await connection.ExecuteAsync(Step(RecomputeFeatureHoursSql, new { Hours = hours }, transaction, cancellationToken));
            await connection.ExecuteAsync(Step(RecomputeFeatureDaysSql, new { Days = days }, transaction, cancellationToken));
        }

        // A changed day moves the windows of the 7 days that follow it, and today's window always moves.
        var today = DateOnly.FromDateTime(now.UtcDateTime);
        var asOf = days.SelectMany(d => Enumerable.Range(0, 7).Select(d.AddDays)).Where(d => d <= today).Append(today).Distinct().ToArray();
        await connection.ExecuteAsync(Step(ClearWindowsSql, new { AsOf = asOf }, transaction, cancellationToken));
        await connection.ExecuteAsync(Step(asOf.Length >= SpanWindowsFrom ? SpanWindowsSql : CountWindowsSql, new { AsOf = asOf }, transaction, cancellationToken));
        await connection.ExecuteAsync(Step(SaveWatermarkSql, new { Name = RollupWatermark.Name, Watermark = now }, transaction, cancellationToken));

        // The reports asked for, and the stored ones of days that are over whose numbers this run changed.
        var rebuilt = await DailyReports.StoredAsync(connection, transaction, [.. days.Where(d => d < today)], cancellationToken);
        var built = await reports.BuildAsync(connection, transaction, reportDays, rebuilt, cancellationToken);
        await transaction.CommitAsync(cancellationToken);

        if (hours.Length > 0)
        {
            await generations.BumpAsync([AnalyticsGenerations.Dashboard], CancellationToken.None);
        }

        await reports.CacheAsync(built);
        return new Result(hours.Length, days.Length, now, built);
    }
}
