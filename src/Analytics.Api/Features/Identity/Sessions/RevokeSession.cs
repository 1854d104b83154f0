using Analytics.Api.Infrastructure.Activity;
using Analytics.Api.Infrastructure.Auth;
using Analytics.Api.Infrastructure.Clients;
using Analytics.Api.Infrastructure.OpenApi;
using Analytics.Api.Infrastructure.Results;
using Dapper;
using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Analytics.Api.Features.Identity.Sessions;

/// <summary><c>DELETE /users/me/sessions/{id}</c>: signs one of your sessions out. Someone else's session is 404, as if it did not exist.</summary>
public static class RevokeSession
{
    public sealed record Command(CurrentUser User, Guid SessionId, ClientContext Client) : IRequest<Result<bool>>;

    internal sealed class Handler(NpgsqlDataSource db, CommittedChanges committed, TimeProvider clock) : IRequestHandler<Command, Result<bool>>
    {
        private const string RevokeSql = """
            update sessions set revoked_at = coalesce(revoked_at, @Now), revoked_reason = coalesce(revoked_reason, 'revoked_by_user')
            where id = @SessionId and user_id = @UserId
            returning true
            """;

        public async Task<Result<bool>> Handle(Command request, CancellationToken cancellationToken)
        {
            var now = clock.GetUtcNow();
            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var found = await connection.QuerySingleOrDefaultAsync<bool?>(new CommandDefinition(RevokeSql, new { request.SessionId, UserId = request.User.Id, Now = now }, transaction, cancellationToken: cancellationToken));
            if (found is null)
            {
                return Error.NotFound("Session");
            }

            await ActivityLog.WriteAsync(connection, transaction, ActivityEntry.For(request.User.Id, ActivityKind.SessionRevoked, request.Client, new { sessionId = request.SessionId }), now, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            await committed.SessionsAsync(request.User.Id, request.SessionId);
            return true;
        }
    }

    public static RouteHandlerBuilder Map(IEndpointRouteBuilder api) =>
        api.MapDelete("/users/me/sessions/{id:guid}", Endpoint)
            .WithName("RevokeSession")
            .WithSummary("Sign one of your sessions out (its tokens stop working on the next request).")
            .ProducesErrors(401, 404)
            .RequireAuthorization();

    private static async Task<Results<NoContent, ProblemHttpResult>> Endpoint(Guid id, IMediator mediator, HttpContext http, CancellationToken ct) =>
        (await mediator.Send(new Command(CurrentUser.From(http.User)!, id, ClientContext.From(http)), ct)).NoContentOrProblem(http);
}
