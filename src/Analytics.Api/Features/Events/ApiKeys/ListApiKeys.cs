using Analytics.Api.Infrastructure.Auth;
using Analytics.Api.Infrastructure.Database;
using Analytics.Api.Infrastructure.OpenApi;
using Analytics.Api.Infrastructure.Results;
using Dapper;
using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Analytics.Api.Features.Events.ApiKeys;

/// <summary><c>GET /api-keys</c>: your keys, newest first, without their secrets; <c>GET /api-keys/{id}</c>: one of them.</summary>
public static class ListApiKeys
{
    public sealed record Query(Guid OwnerId) : IRequest<IReadOnlyList<KeyView>>;

    public sealed record Get(Guid OwnerId, Guid Id) : IRequest<Result<KeyView>>;

    public sealed record KeyView(Guid Id, string Name, string Prefix, DateTimeOffset CreatedAt, DateTimeOffset? LastUsedAt, DateTimeOffset? RevokedAt, bool Revoked);

    internal sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Query, IReadOnlyList<KeyView>>, IRequestHandler<Get, Result<KeyView>>
    {
        private const string Sql = """
            select id as Id, name as Name, public_id as PublicId, created_at as CreatedAt, last_used_at as LastUsedAt, revoked_at as RevokedAt
            from api_keys where user_id = @OwnerId and (@Id::uuid is null or id = @Id) order by created_at desc
            """;

        public Task<IReadOnlyList<KeyView>> Handle(Query request, CancellationToken cancellationToken) => KeysAsync(request.OwnerId, null, cancellationToken);

        public async Task<Result<KeyView>> Handle(Get request, CancellationToken cancellationToken) =>
            (await KeysAsync(request.OwnerId, request.Id, cancellationToken)) is [var key] ? key : Error.NotFound("API key");

        private async Task<IReadOnlyList<KeyView>> KeysAsync(Guid ownerId, Guid? id, CancellationToken ct)
        {
            await using var connection = await db.OpenConnectionAsync(ct);
            var rows = await connection.QueryAsync<Row>(new CommandDefinition(Sql, new { OwnerId = ownerId, Id = id }, cancellationToken: ct));
            return [.. rows.Select(r => new KeyView(r.Id, r.Name, $"ak_{r.PublicId}", r.CreatedAt.AsUtc(), r.LastUsedAt.AsUtc(), r.RevokedAt.AsUtc(), r.RevokedAt is not null))];
        }

        private sealed record Row(Guid Id, string Name, string PublicId, DateTime CreatedAt, DateTime? LastUsedAt, DateTime? RevokedAt);
    }

    public static RouteHandlerBuilder Map(IEndpointRouteBuilder api)
    {
        api.MapGet("/api-keys/{id}", GetEndpoint)
            .WithName("GetApiKey")
            .WithSummary("One of your API keys (where POST /api-keys's Location points); 404 for another user's or no key.")
            .ProducesErrors(401, 404)
            .RequireAuthorization();
        return api.MapGet("/api-keys", Endpoint)
            .WithName("ListApiKeys")
            .WithSummary("Your API keys: prefix, name, created, last used, revoked.")
            .ProducesErrors(401)
            .RequireAuthorization();
    }

    private static async Task<Ok<IReadOnlyList<KeyView>>> Endpoint(IMediator mediator, HttpContext http, CancellationToken ct) =>
        TypedResults.Ok(await mediator.Send(new Query(CurrentUser.From(http.User)!.Id), ct));

    private static async Task<Results<Ok<KeyView>, ProblemHttpResult>> GetEndpoint(Guid id, IMediator mediator, HttpContext http, CancellationToken ct) =>
        (await mediator.Send(new Get(CurrentUser.From(http.User)!.Id, id), ct)).OkOrProblem(http);
}
