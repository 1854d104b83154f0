using Analytics.Api.Infrastructure.OpenApi;
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

    public sealed record Query(string? Status, int? Limit) : IRequest<IReadOnlyList<Alert>>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(q => q.Status).Must(s => s is null || Statuses.Contains(s)).WithMessage("Status must be 'open' or 'all'.");
            RuleFor(q => q.Limit).InclusiveBetween(1, 200).WithMessage("Limit must be between 1 and 200.");
        }
    }

    internal sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Query, IReadOnlyList<Alert>>
    {
        private const string Sql = $"""
            select {Alert.Columns}
            from {Alert.From}
            where not @OpenOnly or a.closed_at is null
            order by a.opened_at desc, a.id desc
            limit @Limit
            """;

        public async Task<IReadOnlyList<Alert>> Handle(Query request, CancellationToken cancellationToken)
        {
            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            var rows = await connection.QueryAsync<Alert.Row>(new CommandDefinition(Sql, new { OpenOnly = request.Status == "open", Limit = request.Limit ?? 50 }, cancellationToken: cancellationToken));
            return [.. rows.Select(r => r.ToAlert())];
        }
    }

    public static RouteHandlerBuilder Map(IEndpointRouteBuilder admin) =>
        admin.MapGet("/alerts", Endpoint)
            .WithName("ListAlerts")
            .WithSummary("Failed-login alerts (global, per IP, per account), newest first: status=all (default) or open; limit 1-200 (default 50).")
            .ProducesErrors(400, 401, 403);

    private static async Task<Ok<IReadOnlyList<Alert>>> Endpoint(IMediator mediator, CancellationToken ct, string? status = null, int? limit = null) =>
        TypedResults.Ok(await mediator.Send(new Query(status, limit), ct));
}
