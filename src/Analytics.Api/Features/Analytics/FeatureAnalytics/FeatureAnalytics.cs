using Analytics.Api.Infrastructure.Auth;
using Analytics.Api.Infrastructure.Caching;
using Analytics.Api.Infrastructure.OpenApi;
using Dapper;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Analytics.Api.Features.Analytics.FeatureAnalytics;

/// <summary>
/// <c>GET /analytics/features</c>: <c>feature_click</c> events by feature (bar chart) and, for one feature, by UTC
/// day (line chart), filtered by the clicking user's age band and gender. Admins see every user's clicks, others
/// only their own. Generic <c>click</c> events do not count: their names are UI elements, not features.
/// </summary>
public static class FeatureAnalytics
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
                .MaximumLength(Events.TrackEvent.TrackEvent.MaxNameLength).WithMessage($"Feature must have at most {Events.TrackEvent.TrackEvent.MaxNameLength} characters.");
            RuleFor(q => q).Must(q => q.Period(clock.GetUtcNow()).IsOrdered)
                .WithName("startDate").WithMessage("startDate must not be after endDate.");
            RuleFor(q => q).Must(q => q.Period(clock.GetUtcNow()).IsWithinLimit)
                .WithName("endDate").WithMessage($"The period from startDate to endDate must be at most {ReportingPeriod.MaxDays} days.");
        }
    }

    internal sealed class Handler(NpgsqlDataSource db, ICache cache, AnalyticsGenerations generations, TimeProvider clock) : IRequestHandler<Query, Response>
    {
        // The clicks the caller may see that match the filters. Type and time range come first so that
        // events_type_time (which includes name and user_id) and partition pruning serve it; the "@X is null or"
        // filters fold away when the statement is planned with its values.
        private const string VisibleClicks = """
            events e
            left join users u on u.id = e.user_id
            where e.type = 'feature_click'
              and e.occurred_at >= @Start and e.occurred_at < @End
              and (@UserId::uuid is null or e.user_id = @UserId)
              and (@MinAge::int is null or u.age >= @MinAge)
              and (@MaxAge::int is null or u.age <= @MaxAge)
              and (@Gender::text is null or u.gender = @Gender)
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

            select count(*) as Clicks, count(distinct e.user_id) as Users
            from {VisibleClicks} and e.name = @Feature;
            """;

        public async Task<Response> Handle(Query request, CancellationToken cancellationToken)
        {
            Guid? userId = request.User.IsAdmin ? null : request.User.Id;
            var scope = userId is { } id ? AnalyticsGenerations.FeatureClicksOf(id) : AnalyticsGenerations.AllFeatureClicks;
            var filter = new Filter(request.Period(clock.GetUtcNow()), userId, request.Age ?? "all", request.Gender ?? "all", request.Feature?.Trim());

            // The generation is read before the query runs: clicks committed meanwhile bump it past this entry.
            var generation = await generations.CurrentAsync(scope, cancellationToken);
            var key = $"{scope}:{generation}:{filter.Period.Key}:{filter.Age}:{filter.Gender}:{filter.Feature}";
            var (response, _) = await cache.GetOrCreateAsync(key, CacheTtl, token => QueryAsync(filter, token), cancellationToken);
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
                Gender = filter.Gender == "all" ? null : filter.Gender,
                Bars = MaxBars,
            });

            await using var connection = await db.OpenConnectionAsync(ct);
            List<FeatureClicks> bars;
            Totals total;
            await using (var overall = await connection.QueryMultipleAsync(new CommandDefinition(OverallSql, parameters, cancellationToken: ct)))
            {
                bars = [.. await overall.ReadAsync<FeatureClicks>()];
                total = await overall.ReadSingleAsync<Totals>();
            }

            var active = filter.Feature ?? bars.FirstOrDefault()?.Feature;
            var perDay = new Dictionary<DateOnly, long>();
            var featureTotal = new Totals(0, 0);
            if (active is not null)
            {
                parameters.Add("Feature", active);
                await using var feature = await connection.QueryMultipleAsync(new CommandDefinition(FeatureSql, parameters, cancellationToken: ct));
                perDay = (await feature.ReadAsync<DayRow>()).ToDictionary(r => r.Day, r => r.Clicks);
                featureTotal = await feature.ReadSingleAsync<Totals>();
            }

            var line = filter.Period.Days().Select(day => new DayClicks(day, perDay.GetValueOrDefault(day))).ToList();
            var summary = new Summary(
                total.Clicks, total.Users, active, featureTotal.Clicks, featureTotal.Users,
                filter.Period.From, filter.Period.To, filter.Age, filter.Gender, filter.UserId is null);
            return new Response(bars, line, summary);
        }

        private sealed record Filter(ReportingPeriod Period, Guid? UserId, string Age, string Gender, string? Feature);

        private sealed record Totals(long Clicks, long Users);

        private sealed record DayRow(DateOnly Day, long Clicks);
    }

    public static RouteHandlerBuilder Map(IEndpointRouteBuilder api) =>
        api.MapGet("/analytics/features", Endpoint)
            .WithName("FeatureAnalytics")
            .WithSummary("Feature clicks per feature and, for one feature, per UTC day; filter by period, age band and gender.")
            .WithDescription(
                "startDate defaults to 30 days before endDate, endDate to now; the period is [startDate, endDate), at most 366 days. "
                + "age: all, <18, 18-40, >40; gender: all, male, female, other (clicks of users without that detail are left out when filtering by it). "
                + "feature defaults to the most-clicked one. Admins see every user's clicks, others their own.")
            .ProducesErrors(400, 401)
            .RequireAuthorization();

    private static async Task<Ok<Response>> Endpoint(
        IMediator mediator, HttpContext http, CancellationToken ct, DateTimeOffset? startDate = null, DateTimeOffset? endDate = null,
        string? age = null, string? gender = null, string? feature = null) =>
        TypedResults.Ok(await mediator.Send(new Query(startDate, endDate, age, gender, feature) { User = CurrentUser.From(http.User)! }, ct));
}
