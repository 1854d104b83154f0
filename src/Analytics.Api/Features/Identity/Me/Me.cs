using Analytics.Api.Infrastructure.Auth;
using Analytics.Api.Infrastructure.OpenApi;
using Analytics.Api.Infrastructure.Results;
using Dapper;
using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Analytics.Api.Features.Identity.Me;

/// <summary><c>GET /auth/me</c>: the signed-in user.</summary>
public static class Me
{
    public sealed record Query(Guid UserId) : IRequest<Result<UserView>>;

    internal sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Query, Result<UserView>>
    {
        private const string Sql = $"select {UserView.Columns} from users u where u.id = @UserId";

        public async Task<Result<UserView>> Handle(Query request, CancellationToken cancellationToken)
        {
            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            var row = await connection.QuerySingleOrDefaultAsync<UserView.Row>(new CommandDefinition(Sql, new { request.UserId }, cancellationToken: cancellationToken));
            return row is null ? Error.NotFound("User") : row.ToView();
        }
    }

    public static RouteHandlerBuilder Map(IEndpointRouteBuilder api) =>
        api.MapGet("/auth/me", Endpoint)
            .WithName("Me")
            .WithSummary("The signed-in user.")
            .ProducesErrors(401)
            .RequireAuthorization();

    private static async Task<Results<Ok<UserView>, ProblemHttpResult>> Endpoint(IMediator mediator, HttpContext http, CancellationToken ct) =>
        (await mediator.Send(new Query(CurrentUser.From(http.User)!.Id), ct)).OkOrProblem(http);
}
