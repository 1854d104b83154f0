using Analytics.Api.Features.Analytics;
using Analytics.Api.Infrastructure.OpenApi;
using Analytics.Api.Infrastructure.Results;
using Dapper;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Analytics.Api.Features.Reports.DailyReport;

/// <summary>
/// Daily reports for a UTC day: logins, failed logins, registrations, active users, events by type and the top 10
/// features, built from the rollups (brought up to date first, in the same transaction), stored in PostgreSQL and cached.
/// The job generates yesterday's and backfills days missed during downtime; an admin can regenerate any day; and a
/// stored report is rebuilt by the rollup run that takes in late events of its day (an app that was offline).
/// </summary>
public static class DailyReport
{
    public const int BackfillDays = 90;

    public sealed record Report(DateOnly Day, long Logins, long FailedLogins, long Registrations, long ActiveUsers, IReadOnlyDictionary<string, long> EventsByType, IReadOnlyList<FeatureCount> TopFeatures, DateTimeOffset GeneratedAt);

    public sealed record FeatureCount(string Feature, long Clicks);

    /// <summary>With <paramref name="Day"/>: regenerate that day. Without: yesterday and every missing day of the last <see cref="BackfillDays"/>.</summary>
    public sealed record Generate(DateOnly? Day) : IRequest<IReadOnlyList<Report>>;

    /// <summary>What the daily job sends: yesterday's report and any missing ones.</summary>
    public sealed record Scheduled : IRequest<IReadOnlyList<Report>>;

    public sealed record Get(DateOnly Day) : IRequest<Result<Report>>;

    public sealed record List(DateOnly? From, DateOnly? To) : IRequest<IReadOnlyList<Report>>;

    /// <summary>
    /// The days a report is made for: over (UTC), and within the last year. Today is not over: a report of it would be
    /// partial, and the job would keep it as that day's report.
    /// </summary>
    internal static bool Reportable(DateOnly day, DateOnly today) => day < today && day >= today.AddYears(-1);

    internal sealed class GenerateValidator : AbstractValidator<Generate>
    {
        public GenerateValidator(TimeProvider clock) =>
            RuleFor(g => g.Day).Must(d => d is null || Reportable(d.Value, DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime)))
                .WithName("date").WithMessage("The date must be a day that is over (UTC): yesterday or earlier, within the last year.");
    }

    internal sealed class GetValidator : AbstractValidator<Get>
    {
        public GetValidator() =>
            RuleFor(g => g.Day).Must(d => d >= ListValidator.Earliest && d <= ListValidator.Latest)
                .OverridePropertyName("date").WithMessage($"The date must lie between {ListValidator.Earliest:yyyy-MM-dd} and {ListValidator.Latest:yyyy-MM-dd}.");
    }

    internal sealed class ListValidator : AbstractValidator<List>
    {
        internal static readonly DateOnly Earliest = DateOnly.FromDateTime(ReportingPeriod.Earliest.UtcDateTime);
        internal static readonly DateOnly Latest = DateOnly.FromDateTime(ReportingPeriod.Latest.UtcDateTime);

        public ListValidator(TimeProvider clock) =>
            RuleFor(l => l).Must(l => (l.From is not { } from || (from >= Earliest && from <= Latest)) && (l.To is not { } to || (to >= Earliest && to <= Latest)))
                .WithName("from").WithMessage($"from and to must lie between {Earliest:yyyy-MM-dd} and {Latest:yyyy-MM-dd}.")
                .DependentRules(() => RuleFor(l => l).Must(l => Range(l, clock) is var (from, to) && from <= to && to.DayNumber - from.DayNumber <= 366)
                    .WithName("from").WithMessage("from must not be after to (today when not sent), and the range may span at most 366 days."));
    }

    /// <summary>The days a list covers: <c>to</c> defaults to today (UTC), <c>from</c> to 30 days before <c>to</c>.</summary>
    private static (DateOnly From, DateOnly To) Range(List request, TimeProvider clock)
    {
        var to = request.To ?? DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);
        return (request.From ?? to.AddDays(-30), to);
    }

    internal sealed class Handler(NpgsqlDataSource db, Rollups.Rollups rollups, DailyReports reports, TimeProvider clock)
        : IRequestHandler<Generate, IReadOnlyList<Report>>, IRequestHandler<Scheduled, IReadOnlyList<Report>>, IRequestHandler<Get, Result<Report>>, IRequestHandler<List, IReadOnlyList<Report>>
    {
        private const string MissingDaysSql = """
            select d::date from generate_series(@First, @Last, interval '1 day') d
            where not exists (select 1 from daily_reports r where r.day = d::date)
            """;

        private const string GetSql = "select report::text from daily_reports where day = @Day";

        private const string ListSql = "select report::text from daily_reports where day between @From and @To order by day desc";

        public async Task<IReadOnlyList<Report>> Handle(Generate request, CancellationToken cancellationToken)
        {
            List<DateOnly> days;
            if (request.Day is { } day)
            {
                days = [day];
            }
            else
            {
                var today = DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);
                await using var connection = await db.OpenConnectionAsync(cancellationToken);
                days = [.. (await connection.QueryAsync<DateTime>(new CommandDefinition(MissingDaysSql, new { First = today.AddDays(-BackfillDays), Last = today.AddDays(-1) }, cancellationToken: cancellationToken))).Select(DateOnly.FromDateTime)];
            }

            // Built in the rollups' transaction: a rollup run that takes in late events of one of these days cannot
            // overwrite the report with numbers from before them, nor the other way round.
            var built = (await rollups.RunAsync(days, cancellationToken)).Reports;
            return [.. days.Select(d => built.First(r => r.Day == d))];
        }

        public Task<IReadOnlyList<Report>> Handle(Scheduled request, CancellationToken cancellationToken) => Handle(new Generate(null), cancellationToken);

        public async Task<Result<Report>> Handle(Get request, CancellationToken cancellationToken)
        {
            if (await reports.CachedAsync(request.Day, cancellationToken) is { } cached)
            {
                return cached;
            }

            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            var json = await connection.ExecuteScalarAsync<string?>(new CommandDefinition(GetSql, new { request.Day }, cancellationToken: cancellationToken));
            if (json is null)
            {
                var today = DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);
                var why = Reportable(request.Day, today)
                    ? $"yet; POST .../{request.Day:yyyy-MM-dd}/run generates it."
                    : request.Day >= today
                        ? "yet: the day is not over (UTC); its report is made after it ends."
                        : "and none will be made: reports cover the last year only.";
                return new Error(ErrorKind.NotFound, "report_not_found", "No report for that day.", $"There is no report for {request.Day:yyyy-MM-dd} {why}");
            }

            var report = DailyReports.Read(json);
            await reports.CacheReadAsync(report);
            return report;
        }

        public async Task<IReadOnlyList<Report>> Handle(List request, CancellationToken cancellationToken)
        {
            var (from, to) = Range(request, clock);
            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            var rows = await connection.QueryAsync<string>(new CommandDefinition(ListSql, new { From = from, To = to }, cancellationToken: cancellationToken));
            return [.. rows.Select(DailyReports.Read)];
        }
    }

    public static void Map(IEndpointRouteBuilder admin)
    {
        admin.MapGet("/reports/daily", ListEndpoint)
            .WithName("ListDailyReports")
            .WithSummary("Daily reports between from and to (dates, default the last 30 days), newest first.")
            .ProducesErrors(400, 401, 403);
        admin.MapGet("/reports/daily/{date}", GetEndpoint)
            .WithName("GetDailyReport")
            .WithSummary("The report of one UTC day (yyyy-MM-dd); rebuilt when late events of that day arrive.")
            .ProducesErrors(400, 401, 403, 404);
        admin.MapPost("/reports/daily/{date}/run", RunEndpoint)
            .WithName("RunDailyReport")
            .WithSummary("Regenerate the report of one UTC day that is over (idempotent; today would be partial: 400).")
            .ProducesErrors(400, 401, 403);
    }

    private static async Task<Ok<IReadOnlyList<Report>>> ListEndpoint(IMediator mediator, CancellationToken ct, DateOnly? from = null, DateOnly? to = null) =>
        TypedResults.Ok(await mediator.Send(new List(from, to), ct));

    private static async Task<Results<Ok<Report>, ProblemHttpResult>> GetEndpoint(DateOnly date, IMediator mediator, HttpContext http, CancellationToken ct) =>
        (await mediator.Send(new Get(date), ct)).OkOrProblem(http);

    private static async Task<Ok<Report>> RunEndpoint(DateOnly date, IMediator mediator, CancellationToken ct) =>
        TypedResults.Ok((await mediator.Send(new Generate(date), ct))[0]);
}
