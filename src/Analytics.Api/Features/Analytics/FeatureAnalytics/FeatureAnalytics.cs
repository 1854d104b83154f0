using Analytics.Api.Infrastructure.Auth;
using Analytics.Api.Infrastructure.Caching;
using Analytics.Api.Infrastructure.Database;
using Analytics.Api.Infrastructure.Pipeline;
using Dapper;
using FluentValidation;
using MediatR;
using Npgsql;

namespace Analytics.Api.Features.Analytics.FeatureAnalytics;

/// <summary>
/// <c>GET /analytics/features</c>: <c>feature_click</c> events by feature (bar chart) and, for one feature, by UTC
/// day (line chart), filtered by the clicking user's age band and gender. Admins see every user's clicks, others
/// only their own. Generic <c>click</c> events do not count: their names are UI elements, not features.
/// Admins' answers come mostly from the feature-click rollups (docs/decisions/0010), exactly as from raw events.
/// </summary>
public static partial class FeatureAnalytics
{
    public const int MaxBars = 100;

    public static readonly TimeSpan DefaultSpan = TimeSpan.FromDays(30);

    private static readonly TimeSpan CacheTtl = TimeSpan.FromMinutes(10);

    /// <summary>Age bands by name: inclusive bounds, null for open.</summary>
    private static readonly Dictionary<string, (int? Min, int? Max)> AgeBands = new(StringComparer.Ordinal)
    {
        ["all"] = (null, null),
        ["<18"] = (null, 17),
        ["18-40"] = (18, 40),
        [">40"] = (41, null),
    };

    private static readonly string[] Genders = ["all", "male", "female", "other"];

    /// <summary>Age and gender stay strings so that an unknown value is a field error naming the allowed ones.</summary>
    public sealed record Query(DateTimeOffset? StartDate, DateTimeOffset? EndDate, string? Age, string? Gender, string? Feature) : IRequest<Response>
    {
        internal CurrentUser User { get; init; } = null!;

        public ReportingPeriod Period(DateTimeOffset now) => ReportingPeriod.Resolve(StartDate, EndDate, ReportingPeriod.EndOfMinute(now), DefaultSpan);
    }

    public sealed record Response(IReadOnlyList<FeatureClicks> BarChart, IReadOnlyList<DayClicks> LineChart, Summary Summary);

    public sealed record FeatureClicks(string Feature, long Clicks);

    public sealed record DayClicks(DateOnly Date, long Clicks);

    /// <summary>
    /// Totals over every feature in the period, then those of <paramref name="ActiveFeature"/> (the line chart's).
    /// Unique users are signed-in users; clicks sent by API keys count as clicks only.
    /// </summary>
    public sealed record Summary(
        long TotalClicks,
        long UniqueUsers,
        string? ActiveFeature,
        long ActiveFeatureClicks,
        long ActiveFeatureUniqueUsers,
        DateTimeOffset StartDate,
        DateTimeOffset EndDate,
        string Age,
        string Gender,
        bool AllUsers);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator(TimeProvider clock)
        {
            RuleFor(q => q.Age).Must(a => a is null || AgeBands.ContainsKey(a))
                .WithMessage($"Age must be one of: {string.Join(", ", AgeBands.Keys)}.");
            RuleFor(q => q.Gender).Must(g => g is null || Genders.Contains(g))
                .WithMessage($"Gender must be one of: {string.Join(", ", Genders)}.");
            RuleFor(q => q.Feature).Must(f => f is null || f.Trim().Length > 0).WithMessage("Feature must not be blank.")
                .NoControlCharacters("Feature")
                .MaximumLength(Events.TrackEvent.TrackEvent.MaxNameLength).WithMessage($"Feature must have at most {Events.TrackEvent.TrackEvent.MaxNameLength} characters.");
            this.PeriodRules(q => q.Period(clock.GetUtcNow()), "startDate", "endDate", $"The period from startDate to endDate must be at most {ReportingPeriod.MaxDays} days.");
        }
    }

    internal sealed class Handler(NpgsqlDataSource db, ICache cache, AnalyticsGenerations generations, AnalyticsReads reads, TimeProvider clock) : IRequestHandler<Query, Response>
    {
        // The clicks the caller may see that match the filters. Type and time range come first so that
        // events_type_time (which includes name and user_id) and partition pruning serve it; the "@X is null or"
        // filters fold away when the statement is planned with its values.
        // The clicking user's age and gender filters (u: the users row, absent for clicks without a user).
        private const string ProfileFilters = "(@MinAge::int is null or u.age >= @MinAge) and (@MaxAge::int is null or u.age <= @MaxAge) and (@Gender::text is null or u.gender = @Gender)";

        private const string VisibleClicks = $"""
            events e
            left join users u on u.id = e.user_id
            where e.type = 'feature_click'
              and e.occurred_at >= @Start and e.occurred_at < @End
              and (@UserId::uuid is null or e.user_id = @UserId)
              and {ProfileFilters}
            """;

        // Ties by name in byte order, so every node and collation agree on which feature is the top one.
        private const string OverallSql = $"""
            select e.name as Feature, count(*) as Clicks
            from {VisibleClicks}
            group by e.name
            order by count(*) desc, e.name collate "C"
            limit @Bars;

            select count(*) as Clicks, count(distinct e.user_id) as Users
            from {VisibleClicks};
            """;

        private const string FeatureSql = $"""
            select (e.occurred_at at time zone 'UTC')::date as Day, count(*) as Clicks
            from {VisibleClicks} and e.name = @Feature
            group by 1;

            select count(distinct e.user_id) as Users
            from {VisibleClicks} and e.name = @Feature;
            """;

        // Row estimates over unnest() and the bitmaps make these few-millisecond statements look costly enough for
        // JIT, whose compilation then takes tens to hundreds of milliseconds (measured at 10M events). And planned
        // once for any period (the generic plan Npgsql's auto-prepared statements get after five runs), they take
        // seconds instead of milliseconds (measured under wrk at 1M events): each run is planned with its values.
        private const string PlanSettingsSql = "set local jit = off; set local plan_cache_mode = force_custom_plan";

        // The hours in the period with clicks that arrived since the run before the last one (the overlap covers
        // transactions that committed after that run began): the rollups are exact for every other hour. @Since is a
        // value, not a subquery, so that the plan uses events_received rather than assuming a third of the rows.
        private const string StaleHoursSql = """
            select coalesce(array_agg(distinct date_trunc('hour', occurred_at, 'UTC')), '{}') from events
            where received_at >= @Since and type = 'feature_click' and occurred_at >= @Start and occurred_at < @End
            """;

        // Click rollups hold every combination of band and gender, '*' standing for any, so a filter reads one cell.
        private const string RolledCell = """
            age_band = coalesce(@Band::text, '*') and gender = coalesce(@Gender::text, '*')
            """;

        private const string MaskCells = """
            (@Band::text is null or age_band = @Band) and (@Gender::text is null or gender = @Gender)
            """;

        private const string RawClicks = $"""
            unnest(@RawFrom::timestamptz[], @RawTo::timestamptz[]) r (f, t)
            join events e on e.type = 'feature_click' and e.occurred_at >= r.f and e.occurred_at < r.t
                -- The same bounds as constants, so that the plan leaves out the other partitions.
                and e.occurred_at >= @RawMin and e.occurred_at < @RawMax
            left join users u on u.id = e.user_id
            where e.name is not null
              and {ProfileFilters}
            """;

        // Clicks by UTC day and feature, from daily rows, hourly rows and raw rows of the cut period.
        private const string RolledClicks = $"""
            select day, feature, clicks from feature_clicks_daily where day = any(@Days::date[]) and {RolledCell}
            union all
            select (bucket at time zone 'UTC')::date, feature, clicks from feature_clicks_hourly where bucket = any(@Hours::timestamptz[]) and {RolledCell}
            union all
            select (e.occurred_at at time zone 'UTC')::date, e.name, 1 from {RawClicks}
            """;

        // Users who clicked @Key ('' for any feature): the union of the rolled-up bitmaps, masked by the cells the
        // filters allow, plus the raw rows' users who are not in it.
        private const string RolledUsers = $"""
            with rolled as (
                select block, bit_or(users) as users from (
                    select block, users from feature_users_daily where day = any(@Days::date[]) and feature = @Key
                    union all
                    select block, users from feature_users_hourly where bucket = any(@Hours::timestamptz[]) and feature = @Key
                ) b
                group by block
            ),
            allowed as (
                select block, bit_or(users) as users from feature_user_masks where {MaskCells} group by block
            ),
            visible as (
                select r.block, case when @Band::text is null and @Gender::text is null then r.users
                                     else r.users & coalesce(a.users, B'0'::bit(65536)) end as users
                from rolled r left join allowed a on a.block = r.block
            ),
            raw as (
                select distinct e.user_id from {RawClicks} and e.user_id is not null and (@Key = '' or e.name = @Key)
            ),
            -- Each raw user's bit, if numbered: one index probe per raw user (a plain join tends to read every numbered
            -- user). Materialised, so that the check below hashes the few visible blocks once instead of scanning
            -- them again for every raw user (at 10M events, with ~9k raw users: 230 → 130 ms per uncached answer).
            raw_bits as materialized (
                select f.n from raw
                left join lateral (select n from feature_click_users f where f.user_id = raw.user_id limit 1) f on true
            )
            select coalesce((select sum(bit_count(users)) from visible), 0)::bigint
                 + (select count(*) from raw_bits b
                    left join visible v on v.block = b.n / 65536
                    where v.users is null or get_bit(v.users, b.n % 65536) = 0)
            """;

        // Ties by name in byte order, as in OverallSql; every feature, the caller keeps the top ones and sums them all.
        private const string RolledOverallSql = $"""
            select feature as Feature, sum(clicks)::bigint as Clicks
            from ({RolledClicks}) c
            group by feature
            order by sum(clicks) desc, feature collate "C";

            {RolledUsers};
            """;

        private const string RolledFeatureSql = $"""
            select day as Day, sum(clicks)::bigint as Clicks
            from ({RolledClicks}) c
            where feature = @Feature
            group by day;

            {RolledUsers};
            """;

        public async Task<Response> Handle(Query request, CancellationToken cancellationToken)
        {
            Guid? userId = request.User.IsAdmin ? null : request.User.Id;
            var scope = userId is { } id ? AnalyticsGenerations.FeatureClicksOf(id) : AnalyticsGenerations.AllFeatureClicks;
            var filter = new Filter(request.Period(clock.GetUtcNow()), userId, request.Age ?? "all", request.Gender ?? "all", request.Feature?.Trim());

            // The generation is read before the query runs: clicks committed meanwhile bump it past this entry.
            var generation = await generations.CurrentAsync(scope, cancellationToken);
            var key = $"{scope}:{generation}:{filter.Period.Key}:{filter.Age}:{filter.Gender}:{filter.Feature}";
            var (response, _) = await cache.GetOrCreateAsync(key, CacheTtl, token => reads.RunAsync(t => QueryAsync(filter, t), token), cancellationToken);
            return response;
        }

        private async Task<Response> QueryAsync(Filter filter, CancellationToken ct)
        {
            var (minAge, maxAge) = AgeBands[filter.Age];
            var parameters = new DynamicParameters(new
            {
                Start = filter.Period.From,
                End = filter.Period.To,
                filter.UserId,
                MinAge = minAge,
                MaxAge = maxAge,
                Band = filter.Age == "all" ? null : filter.Age,
                Gender = filter.Gender == "all" ? null : filter.Gender,
                Bars = MaxBars,
            });

            await using var connection = await db.OpenConnectionAsync(ct);

            // One snapshot for the watermark, the rollups and the raw rows, so that none is counted twice or missed.
            await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, ct);
            await connection.ExecuteAsync(new CommandDefinition(PlanSettingsSql, transaction: transaction, cancellationToken: ct));
            var (bars, total) = filter.UserId is null
                ? await RolledOverallAsync(connection, transaction, filter, parameters, ct)
                : await OwnOverallAsync(connection, transaction, parameters, ct);

            var active = filter.Feature ?? bars.FirstOrDefault()?.Feature;
            var perDay = new Dictionary<DateOnly, long>();
            var featureTotal = new Totals(0, 0);
            if (active is not null)
            {
                parameters.Add("Feature", active);
                parameters.Add("Key", active);
                var sql = filter.UserId is null ? RolledFeatureSql : FeatureSql;
                await using var feature = await connection.QueryMultipleAsync(new CommandDefinition(sql, parameters, transaction, cancellationToken: ct));
                perDay = (await feature.ReadAsync<DayRow>()).ToDictionary(r => r.Day, r => r.Clicks);

                // The feature's clicks are the sum of its days; only its unique users need a statement of their own.
                featureTotal = new Totals(perDay.Values.Sum(), await feature.ReadSingleAsync<long>());
            }

            await transaction.CommitAsync(ct);
            var line = filter.Period.Days().Select(day => new DayClicks(day, perDay.GetValueOrDefault(day))).ToList();
            var summary = new Summary(
                total.Clicks, total.Users, active, featureTotal.Clicks, featureTotal.Users,
                filter.Period.From, filter.Period.To, filter.Age, filter.Gender, filter.UserId is null);
            return new Response(bars, line, summary);
        }

        /// <summary>A user's own clicks are few: straight from the raw rows through events_user_time.</summary>
        private static async Task<(List<FeatureClicks> Bars, Totals Total)> OwnOverallAsync(
            NpgsqlConnection connection, NpgsqlTransaction transaction, DynamicParameters parameters, CancellationToken ct)
        {
            await using var overall = await connection.QueryMultipleAsync(new CommandDefinition(OverallSql, parameters, transaction, cancellationToken: ct));
            return ([.. await overall.ReadAsync<FeatureClicks>()], await overall.ReadSingleAsync<Totals>());
        }

        /// <summary>Every user's clicks: whole days and hours from the rollups, the rest (see <see cref="RolledPeriod"/>) raw.</summary>
        private static async Task<(List<FeatureClicks> Bars, Totals Total)> RolledOverallAsync(
            NpgsqlConnection connection, NpgsqlTransaction transaction, Filter filter, DynamicParameters parameters, CancellationToken ct)
        {
            var (from, to) = (filter.Period.From.UtcDateTime, filter.Period.To.UtcDateTime);
            var watermark = await RollupWatermark.ReadAsync(connection, transaction, ct);
            var period = RolledPeriod.AllRaw(from, to);
            if (watermark is { } rolledAt)
            {
                var stale = await connection.ExecuteScalarAsync<DateTime[]>(new CommandDefinition(
                    StaleHoursSql, new { Since = rolledAt - RollupWatermark.Overlap, Start = from, End = to }, transaction, cancellationToken: ct));
                period = RolledPeriod.Split(from, to, stale!.Select(h => DateTime.SpecifyKind(h, DateTimeKind.Utc)).ToHashSet());
            }

            parameters.Add("Days", period.Days);
            parameters.Add("Hours", period.Hours);
            parameters.Add("RawFrom", period.RawFrom);
            parameters.Add("RawTo", period.RawTo);
            parameters.Add("RawMin", period.RawFrom.DefaultIfEmpty(from).Min());
            parameters.Add("RawMax", period.RawTo.DefaultIfEmpty(from).Max());
            parameters.Add("Key", "");

            await using var overall = await connection.QueryMultipleAsync(new CommandDefinition(RolledOverallSql, parameters, transaction, cancellationToken: ct));
            var features = (await overall.ReadAsync<FeatureClicks>()).ToList();
            var users = await overall.ReadSingleAsync<long>();
            return ([.. features.Take(MaxBars)], new Totals(features.Sum(f => f.Clicks), users));
        }

        private sealed record Filter(ReportingPeriod Period, Guid? UserId, string Age, string Gender, string? Feature);

        private sealed record Totals(long Clicks, long Users);

        private sealed record DayRow(DateOnly Day, long Clicks);
    }
}
