using Analytics.Api.Infrastructure.Auth;
using Analytics.Api.Infrastructure.OpenApi;
using Analytics.Api.Infrastructure.Results;
using Dapper;
using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Analytics.Api.Features.Reports.Alerts;

/// <summary>
/// <c>POST /admin/alerts/{id}/acknowledge</c>: records which admin took the alert on, and when. Idempotent: the first
/// acknowledgement stands, later ones return the alert unchanged. Open or closed alerts alike.
/// </summary>
public static class AcknowledgeAlert
{
    public sealed record Command(Guid Id) : IRequest<Result<Alert>>
    {
        internal Guid AdminId { get; init; }
    }

    internal sealed class Handler(NpgsqlDataSource db, TimeProvider clock) : IRequestHandler<Command, Result<Alert>>
    {
        private const string AcknowledgeSql = "update alerts set acknowledged_at = @Now, acknowledged_by = @AdminId where id = @Id and acknowledged_at is null";

        private const string ViewSql = $"select {Alert.Columns} from {Alert.From} where a.id = @Id";

        public async Task<Result<Alert>> Handle(Command request, CancellationToken cancellationToken)
        {
            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            await connection.ExecuteAsync(new CommandDefinition(AcknowledgeSql, new { request.Id, request.AdminId, Now = clock.GetUtcNow() }, cancellationToken: cancellationToken));
            var row = await connection.QuerySingleOrDefaultAsync<Alert.Row>(new CommandDefinition(ViewSql, new { request.Id }, cancellationToken: cancellationToken));
            return row is null ? Error.NotFound("Alert") : row.ToAlert();
        }
    }

    public static RouteHandlerBuilder Map(IEndpointRouteBuilder admin) =>
        admin.MapPost("/alerts/{id}/acknowledge", Endpoint)
            .WithName("AcknowledgeAlert")
            .WithSummary("Acknowledge an alert (records who and when; idempotent, the first acknowledgement stands).")
            .ProducesErrors(401, 403, 404);

    private static async Task<Results<Ok<Alert>, ProblemHttpResult>> Endpoint(Guid id, IMediator mediator, HttpContext http, CancellationToken ct) =>
        (await mediator.Send(new Command(id) { AdminId = CurrentUser.From(http.User)!.Id }, ct)).OkOrProblem(http);
}
