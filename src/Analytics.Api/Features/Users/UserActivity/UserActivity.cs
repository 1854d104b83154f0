using System.Text.Json;
using Analytics.Api.Infrastructure.Auth;
using Analytics.Api.Infrastructure.OpenApi;
using Dapper;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Analytics.Api.Features.Users.UserActivity;

/// <summary>
/// <c>GET /users/me/activity</c> and <c>GET /admin/users/{id}/activity</c>: the activity log of one user, newest
/// first; <c>before</c> (an entry id) pages further back.
/// </summary>
public static class UserActivity
{
    public sealed record Query(Guid UserId, long? Before, int? Limit) : IRequest<Page>;

    public sealed record Entry(long Id, string Kind, DateTimeOffset OccurredAt, string? Ip, string? UserAgent, JsonElement Details);

    public sealed record Page(IReadOnlyList<Entry> Items, long? NextBefore);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(q => q.Limit).InclusiveBetween(1, 200).WithMessage("Limit must be between 1 and 200.");
            RuleFor(q => q.Before).GreaterThan(0).WithMessage("Before must be a positive entry id.");
        }
    }

    internal sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Query, Page>
    {
        private const string Sql = """
            select id as Id, kind as Kind, occurred_at as OccurredAt, host(ip) as Ip, user_agent as UserAgent, details::text as Details
            from activity_log
            where user_id = @UserId and (@Before is null or id < @Before)
            order by id desc
            limit @Take
            """;

        public async Task<Page> Handle(Query request, CancellationToken cancellationToken)
        {
            var limit = request.Limit ?? 50;
            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            var rows = (await connection.QueryAsync<Row>(new CommandDefinition(Sql, new { request.UserId, request.Before, Take = limit + 1 }, cancellationToken: cancellationToken))).ToList();
            var items = rows.Take(limit)
                .Select(r => new Entry(r.Id, r.Kind, new DateTimeOffset(DateTime.SpecifyKind(r.OccurredAt, DateTimeKind.Utc)), r.Ip, r.UserAgent, JsonDocument.Parse(r.Details).RootElement))
                .ToList();
            return new Page(items, rows.Count > limit ? items[^1].Id : null);
        }

        private sealed record Row(long Id, string Kind, DateTime OccurredAt, string? Ip, string? UserAgent, string Details);
    }

    public static RouteHandlerBuilder MapOwn(IEndpointRouteBuilder api) =>
        api.MapGet("/users/me/activity", Own)
            .WithName("MyActivity")
            .WithSummary("Your activity log (sign-ins, failures, profile and password changes), newest first.")
            .ProducesErrors(400, 401)
            .RequireAuthorization();

    public static RouteHandlerBuilder MapAdmin(IEndpointRouteBuilder admin) =>
        admin.MapGet("/users/{id:guid}/activity", ForUser)
            .WithName("UserActivity")
            .WithSummary("A user's activity log, newest first.")
            .ProducesErrors(400, 401, 403);

    private static async Task<Ok<Page>> Own(IMediator mediator, HttpContext http, CancellationToken ct, long? before = null, int? limit = null) =>
        TypedResults.Ok(await mediator.Send(new Query(CurrentUser.From(http.User)!.Id, before, limit), ct));

    private static async Task<Ok<Page>> ForUser(Guid id, IMediator mediator, CancellationToken ct, long? before = null, int? limit = null) =>
        TypedResults.Ok(await mediator.Send(new Query(id, before, limit), ct));
}
