using Analytics.Api.Infrastructure.Auth;
using Analytics.Api.Infrastructure.Auth.ApiKeys;
using Analytics.Api.Infrastructure.OpenApi;
using Analytics.Api.Infrastructure.Results;
using Dapper;
using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Analytics.Api.Features.Events.ApiKeys;

/// <summary>
/// <c>DELETE /api-keys/{id}</c>: the key stops working within <see cref="ApiKeyDirectory.CacheFor"/> on every node.
/// Another user's key is 404.
/// </summary>
public static class RevokeApiKey
{
    public sealed record Command(Guid OwnerId, Guid Id) : IRequest<Result<bool>>;

    internal sealed class Handler(NpgsqlDataSource db, TimeProvider clock) : IRequestHandler<Command, Result<bool>>
    {
        private const string Sql = """
            update api_keys set revoked_at = coalesce(revoked_at, @Now)
            where id = @Id and user_id = @OwnerId
            returning true
            """;

        public async Task<Result<bool>> Handle(Command request, CancellationToken cancellationToken)
        {
            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            var found = await connection.QuerySingleOrDefaultAsync<bool?>(new CommandDefinition(Sql, new { request.Id, request.OwnerId, Now = clock.GetUtcNow() }, cancellationToken: cancellationToken));
            return found is null ? Error.NotFound("API key") : true;
        }
    }

    public static RouteHandlerBuilder Map(IEndpointRouteBuilder api) =>
        api.MapDelete("/api-keys/{id}", Endpoint)
            .WithName("RevokeApiKey")
            .WithSummary("Revoke one of your API keys (effective on every node within 5 seconds).")
            .ProducesErrors(401, 404)
            .RequireAuthorization();

    private static async Task<Results<NoContent, ProblemHttpResult>> Endpoint(Guid id, IMediator mediator, HttpContext http, CancellationToken ct) =>
        (await mediator.Send(new Command(CurrentUser.From(http.User)!.Id, id), ct)).NoContentOrProblem(http);
}
