using Analytics.Api.Infrastructure.Activity;
using Analytics.Api.Infrastructure.Auth;
using Analytics.Api.Infrastructure.Clients;
using Analytics.Api.Infrastructure.OpenApi;
using Analytics.Api.Infrastructure.Results;
using Dapper;
using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Analytics.Api.Features.Identity.Logout;

/// <summary><c>POST /auth/logout</c>: ends the caller's session; its access and refresh tokens stop working at once.</summary>
public static class Logout
{
    public sealed record Command(CurrentUser User, ClientContext Client) : IRequest<Result<bool>>;

    internal sealed class Handler(NpgsqlDataSource db, CommittedChanges committed, TimeProvider clock) : IRequestHandler<Command, Result<bool>>
    {
        private const string RevokeSql = "update sessions set revoked_at = @Now, revoked_reason = 'logout' where id = @SessionId and user_id = @UserId and revoked_at is null";

        public async Task<Result<bool>> Handle(Command request, CancellationToken cancellationToken)
        {
            var now = clock.GetUtcNow();
            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await connection.ExecuteAsync(new CommandDefinition(RevokeSql, new { request.User.SessionId, UserId = request.User.Id, Now = now }, transaction, cancellationToken: cancellationToken));
            await ActivityLog.WriteAsync(connection, transaction, ActivityEntry.For(request.User.Id, ActivityKind.Logout, request.Client, new { sessionId = request.User.SessionId }), now, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            await committed.SessionsAsync(request.User.Id, request.User.SessionId);
            return true;
        }
    }

    public static RouteHandlerBuilder Map(IEndpointRouteBuilder api) =>
        api.MapPost("/auth/logout", Endpoint)
            .WithName("Logout")
            .WithSummary("End the current session.")
            .ProducesErrors(401)
            .RequireAuthorization();

    private static async Task<Results<NoContent, ProblemHttpResult>> Endpoint(IMediator mediator, HttpContext http, CancellationToken ct) =>
        (await mediator.Send(new Command(CurrentUser.From(http.User)!, ClientContext.From(http)), ct)).NoContentOrProblem(http);
}
