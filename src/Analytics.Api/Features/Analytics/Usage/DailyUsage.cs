using Analytics.Api.Infrastructure.Auth;
using Analytics.Api.Infrastructure.Caching;
using Analytics.Api.Infrastructure.Database;
using Analytics.Api.Infrastructure.OpenApi;
using Dapper;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Analytics.Api.Features.Analytics.Usage;

/// <summary>
/// <c>GET /usage/daily</c>: events sent with the caller's API keys (revoked ones included) per UTC day of their
/// event time, every day of the period present; <c>perKey</c> adds the same series for each key that sent any.
/// </summary>
public static class DailyUsage
{
    public static readonly TimeSpan DefaultSpan = TimeSpan.FromDays(7);

    private static readonly TimeSpan CacheTtl = TimeSpan.FromMinutes(10);

    public sealed record Query(DateTimeOffset? From, DateTimeOffset? To, bool PerKey) : IRequest<Response>
    {
        internal Guid OwnerId { get; init; }

        /// <summary>By default the last 7 UTC days, today included.</summary>
        public ReportingPeriod Period(DateTimeOffset now) => ReportingPeriod.Resolve(From, To, ReportingPeriod.EndOfDay(now), DefaultSpan);
    }

    public sealed record Response(DateTimeOffset From, DateTimeOffset To, long Total, IReadOnlyList<DayEvents> Days, IReadOnlyList<KeyUsage>? Keys);

    public sealed record DayEvents(DateOnly Date, long Events);

    public sealed record KeyUsage(Guid Id, string Name, string Prefix, long Events, IReadOnlyList<DayEvents> Days);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator(TimeProvider clock)
        {
            this.PeriodRules(q => q.Period(clock.GetUtcNow()), "from", "to");
        }
    }

    internal sealed class Handler(NpgsqlDataSource db, ICache cache, AnalyticsGenerations generations, AnalyticsReads reads, TimeProvider clock) : IRequestHandler<Query, Response>
    {
        // From the owner's few keys into events_key_time (api_key_id, occurred_at), pruned to the period's partitions.
        private const string Sql = """
            select k.id as KeyId, k.name as Name, k.public_id as PublicId, (e.occurred_at at time zone 'UTC')::date as Day, count(*) as Events
            from api_keys k
            join events e on e.api_key_id = k.id
            where k.user_id = @OwnerId
              and e.occurred_at >= @From and e.occurred_at < @To
            group by k.id, 4
            """;

        public async Task<Response> Handle(Query request, CancellationToken cancellationToken)
        {
            var period = request.Period(clock.GetUtcNow());
            var scope = AnalyticsGenerations.KeyUsageOf(request.OwnerId);

            // Read before the query runs: events committed meanwhile bump it past this entry.
            var generation = await generations.CurrentAsync(scope, cancellationToken);
            var (response, _) = await cache.GetOrCreateAsync(
                $"{scope}:{generation}:daily:{period.Key}:{request.PerKey}", CacheTtl, token => reads.RunAsync(t => QueryAsync(request.OwnerId, period, request.PerKey, t), token), cancellationToken);
            return response;
        }

        private async Task<Response> QueryAsync(Guid ownerId, ReportingPeriod period, bool perKey, CancellationToken ct)
        {
            await using var connection = await db.OpenConnectionAsync(ct);
            var rows = (await connection.QueryAsync<Row>(new CommandDefinition(Sql, new { OwnerId = ownerId, period.From, period.To }, cancellationToken: ct))).ToList();
            var days = period.Days();
            var keys = perKey
                ? rows.GroupBy(r => (r.KeyId, r.Name, r.PublicId))
                    .Select(g => new KeyUsage(g.Key.KeyId, g.Key.Name, $"ak_{g.Key.PublicId}", g.Sum(r => r.Events), Series(days, g)))
                    .OrderByDescending(k => k.Events).ThenBy(k => k.Name, StringComparer.Ordinal).ThenBy(k => k.Id)
                    .ToList()
                : null;
            return new Response(period.From, period.To, rows.Sum(r => r.Events), Series(days, rows), keys);
        }

        private static List<DayEvents> Series(IReadOnlyList<DateOnly> days, IEnumerable<Row> rows)
        {
            var perDay = rows.GroupBy(r => r.Day).ToDictionary(g => g.Key, g => g.Sum(r => r.Events));
            return [.. days.Select(day => new DayEvents(day, perDay.GetValueOrDefault(day)))];
        }

        private sealed record Row(Guid KeyId, string Name, string PublicId, DateOnly Day, long Events);
    }

    public static RouteHandlerBuilder Map(IEndpointRouteBuilder api) =>
        api.MapGet("/usage/daily", Endpoint)
            .WithName("DailyUsage")
            .WithSummary("Events sent with your API keys per UTC day (by event time); perKey=true adds each key's series.")
            .WithDescription("from defaults to 7 days before to, to to the end of today (UTC); the period is [from, to), at most 366 days.")
            .ProducesErrors(400, 401)
            .RequireAuthorization();

    private static async Task<Ok<Response>> Endpoint(
        IMediator mediator, HttpContext http, CancellationToken ct, DateTimeOffset? from = null, DateTimeOffset? to = null, bool perKey = false) =>
        TypedResults.Ok(await mediator.Send(new Query(from, to, perKey) { OwnerId = CurrentUser.From(http.User)!.Id }, ct));
}
