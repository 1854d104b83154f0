using Analytics.Api.Infrastructure.OpenApi;
using Analytics.Api.Infrastructure.Results;
using Dapper;
using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Analytics.Api.Features.Users.GetUser;

/// <summary><c>GET /admin/users/{id}</c>.</summary>
public static class GetUser
{
    public sealed record Query(Guid Id) : IRequest<Result<AdminUserView>>;

    internal sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Query, Result<AdminUserView>>
    {
        private const string Sql = $"select {AdminUserView.Columns} from users u where u.id = @Id";

        public async Task<Result<AdminUserView>> Handle(Query request, CancellationToken cancellationToken)
        {
            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            var row = await connection.QuerySingleOrDefaultAsync<AdminUserView.Row>(new CommandDefinition(Sql, new { request.Id }, cancellationToken: cancellationToken));
            return row is null ? Error.NotFound("User") : row.ToView();
        }
    }

    public static RouteHandlerBuilder Map(IEndpointRouteBuilder admin) =>
        admin.MapGet("/users/{id}", Endpoint)
            .WithName("GetUser")
            .WithSummary("One user, with lockout state and attribution.")
            .ProducesErrors(401, 403, 404);

    private static async Task<Results<Ok<AdminUserView>, ProblemHttpResult>> Endpoint(Guid id, IMediator mediator, HttpContext http, CancellationToken ct) =>
        (await mediator.Send(new Query(id), ct)).OkOrProblem(http);
}
