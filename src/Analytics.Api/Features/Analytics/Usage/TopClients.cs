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
/// <c>GET /usage/top</c> (admin): the API keys that sent the most events in the period, by event time. The ranking
/// is cached; key names and owners' e-mails are read fresh, since an e-mail can change without any event.
/// </summary>
public static class TopClients
{
    public static readonly TimeSpan DefaultSpan = TimeSpan.FromHours(24);

    private static readonly TimeSpan CacheTtl = TimeSpan.FromMinutes(10);

    public sealed record Query(DateTimeOffset? From, DateTimeOffset? To, int? Limit) : IRequest<Response>
    {
        public ReportingPeriod Period(DateTimeOffset now) => ReportingPeriod.Resolve(From, To, ReportingPeriod.EndOfMinute(now), DefaultSpan);
    }

    public sealed record Response(DateTimeOffset From, DateTimeOffset To, IReadOnlyList<Client> Clients);

    public sealed record Client(Guid KeyId, string KeyName, string Prefix, Guid OwnerId, string OwnerEmail, long Events);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator(TimeProvider clock)
        {
            RuleFor(q => q.Limit).InclusiveBetween(1, 100).WithMessage("Limit must be between 1 and 100.");
            this.PeriodRules(q => q.Period(clock.GetUtcNow()), "from", "to");
        }
    }

    internal sealed class Handler(NpgsqlDataSource db, ICache cache, AnalyticsGenerations generations, AnalyticsReads reads, TimeProvider clock) : IRequestHandler<Query, Response>
    {
        // events_key_time (api_key_id, occurred_at) holds only events sent by keys; the period prunes partitions.
        private const string RankingSql = """
            select e.api_key_id as KeyId, count(*) as Events
            from events e
            where e.api_key_id is not null
              and e.occurred_at >= @From and e.occurred_at < @To
            group by e.api_key_id
            order by count(*) desc, e.api_key_id
            limit @Take
            """;

        private const string KeysSql = """
            select k.id as KeyId, k.name as KeyName, k.public_id as PublicId, u.id as OwnerId, u.email as OwnerEmail
            from api_keys k
            join users u on u.id = k.user_id
            where k.id = any(@KeyIds)
            """;

        public async Task<Response> Handle(Query request, CancellationToken cancellationToken)
        {
            var period = request.Period(clock.GetUtcNow());
            var limit = request.Limit ?? 10;

            // Read before the ranking runs: events committed meanwhile bump it past this entry.
            var generation = await generations.CurrentAsync(AnalyticsGenerations.AllKeyUsage, cancellationToken);
            var (ranking, _) = await cache.GetOrCreateAsync(
                $"{AnalyticsGenerations.AllKeyUsage}:{generation}:top:{period.Key}:{limit}", CacheTtl, token => reads.RunAsync(t => RankAsync(period, limit, t), token), cancellationToken);

            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            var keys = (await connection.QueryAsync<KeyRow>(new CommandDefinition(KeysSql, new { KeyIds = ranking.Select(r => r.KeyId).ToArray() }, cancellationToken: cancellationToken)))
                .ToDictionary(k => k.KeyId);

            // A key deleted with its owner keeps its events but is no client to show.
            var clients = ranking
                .Select(r => keys.TryGetValue(r.KeyId, out var k) ? new Client(k.KeyId, k.KeyName, $"ak_{k.PublicId}", k.OwnerId, k.OwnerEmail, r.Events) : null)
                .OfType<Client>()
                .ToList();
            return new Response(period.From, period.To, clients);
        }

        private async Task<List<Ranked>> RankAsync(ReportingPeriod period, int limit, CancellationToken ct)
        {
            await using var connection = await db.OpenConnectionAsync(ct);
            return [.. await connection.QueryAsync<Ranked>(new CommandDefinition(RankingSql, new { period.From, period.To, Take = limit }, cancellationToken: ct))];
        }

        /// <summary>One key's place in the cached ranking.</summary>
        private sealed record Ranked(Guid KeyId, long Events);

        private sealed record KeyRow(Guid KeyId, string KeyName, string PublicId, Guid OwnerId, string OwnerEmail);
    }

    public static RouteHandlerBuilder Map(IEndpointRouteBuilder admin) =>
        admin.MapGet("/usage/top", Endpoint)
            .WithName("TopClients")
            .WithSummary("The API keys that sent the most events (by event time), with their owners; admin only.")
            .WithDescription("from defaults to 24 hours before to, to to now; the period is [from, to), at most 366 days. limit: 1 to 100, default 10.")
            .ProducesErrors(400, 401, 403);

    private static async Task<Ok<Response>> Endpoint(IMediator mediator, CancellationToken ct, DateTimeOffset? from = null, DateTimeOffset? to = null, int? limit = null) =>
        TypedResults.Ok(await mediator.Send(new Query(from, to, limit), ct));
}
