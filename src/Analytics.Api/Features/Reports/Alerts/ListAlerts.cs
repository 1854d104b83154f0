using Analytics.Api.Infrastructure.OpenApi;
using Analytics.Api.Infrastructure.Results;
using Dapper;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Analytics.Api.Features.Reports.Alerts;

/// <summary><c>GET /admin/alerts</c>: failed-login alerts, newest first; <c>status=open</c> for the open ones only.</summary>
public static class ListAlerts
{
    public static readonly string[] Statuses = ["open", "all"];

    public sealed record Query(string? Status, int? Limit, Guid? Before = null) : IRequest<Result<IReadOnlyList<Alert>>>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(q => q.Status).Must(s => s is null || Statuses.Contains(s)).WithMessage("Status must be 'open' or 'all'.");
            RuleFor(q => q.Limit).InclusiveBetween(1, 200).WithMessage("Limit must be between 1 and 200.");
        }
    }

    internal sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Query, Result<IReadOnlyList<Alert>>>
    {
        private const string Sql = $"""
            select {Alert.Columns}
            from {Alert.From}
            where (not @OpenOnly or a.closed_at is null)
              and (@Before::uuid is null or (a.opened_at, a.id) < (select b.opened_at, b.id from alerts b where b.id = @Before))
            order by a.opened_at desc, a.id desc
            limit @Limit
            """;

        public async Task<Result<IReadOnlyList<Alert>>> Handle(Query request, CancellationToken cancellationToken)
        {
            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            if (request.Before is { } before
                && !await connection.ExecuteScalarAsync<bool>(new CommandDefinition("select exists (select 1 from alerts where id = @before)", new { before }, cancellationToken: cancellationToken)))
            {
                return new Error(ErrorKind.NotFound, "not_found", "No such alert.", $"No alert has the id {before} that before= names.");
            }

            var rows = await connection.QueryAsync<Alert.Row>(new CommandDefinition(Sql, new { OpenOnly = request.Status == "open", Limit = request.Limit ?? 50, request.Before }, cancellationToken: cancellationToken));
            return rows.Select(r => r.ToAlert()).ToList();
        }
    }

    public static RouteHandlerBuilder Map(IEndpointRouteBuilder admin) =>
        admin.MapGet("/alerts", Endpoint)
            .WithName("ListAlerts")
            .WithSummary("Failed-login alerts (global, per IP, per account), newest first: status=all (default) or open; limit 1-200 (default 50); before=<id of the last alert of a page> for the next page.")
            .ProducesErrors(400, 401, 403, 404);

    private static async Task<Results<Ok<IReadOnlyList<Alert>>, ProblemHttpResult>> Endpoint(IMediator mediator, HttpContext http, CancellationToken ct, string? status = null, int? limit = null, Guid? before = null) =>
        (await mediator.Send(new Query(status, limit, before), ct)).OkOrProblem(http);
}
