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
        // Idempotent (204 again for a session that has ended); true only when this call ended it.
        private const string RevokeSql = """
            update sessions s set revoked_at = coalesce(s.revoked_at, @Now), revoked_reason = coalesce(s.revoked_reason, 'revoked_by_user')
            from (select id, revoked_at from sessions where id = @SessionId and user_id = @UserId for update) before
            where s.id = before.id
            returning before.revoked_at is null
            """;

        public async Task<Result<bool>> Handle(Command request, CancellationToken cancellationToken)
        {
            var now = clock.GetUtcNow();
            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var ended = await connection.QuerySingleOrDefaultAsync<bool?>(new CommandDefinition(RevokeSql, new { request.SessionId, UserId = request.User.Id, Now = now }, transaction, cancellationToken: cancellationToken));
            if (ended is null)
            {
                return Error.NotFound("Session");
            }

            if (ended == false)
            {
                return true;
            }

            await ActivityLog.WriteAsync(connection, transaction, ActivityEntry.For(request.User.Id, ActivityKind.SessionRevoked, request.Client, new { sessionId = request.SessionId }), now, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            await committed.SessionsAsync(request.User.Id, request.SessionId);
            return true;
        }
    }

    public static RouteHandlerBuilder Map(IEndpointRouteBuilder api) =>
        api.MapDelete("/users/me/sessions/{id}", Endpoint)
            .WithName("RevokeSession")
            .WithSummary("Sign one of your sessions out (its tokens stop working on the next request).")
            .ProducesErrors(401, 404)
            .RequireAuthorization();

    private static async Task<Results<NoContent, ProblemHttpResult>> Endpoint(Guid id, IMediator mediator, HttpContext http, CancellationToken ct) =>
        (await mediator.Send(new Command(CurrentUser.From(http.User)!, id, ClientContext.From(http)), ct)).NoContentOrProblem(http);
}
