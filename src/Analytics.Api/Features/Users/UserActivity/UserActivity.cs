using System.Text.Json;
using Analytics.Api.Infrastructure.Activity;
using Analytics.Api.Infrastructure.Auth;
using Analytics.Api.Infrastructure.OpenApi;
using Analytics.Api.Infrastructure.Results;
using Dapper;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Analytics.Api.Features.Users.UserActivity;

/// <summary>
/// <c>GET /users/me/activity</c> and <c>GET /admin/users/{id}/activity</c>: the activity log of one user, newest
/// first; <c>before</c> (an entry id) pages further back. The first page comes from the cached newest entries.
/// </summary>
public static class UserActivity
{
    public sealed record Query(Guid UserId, long? Before, int? Limit) : IRequest<Result<Page>>;

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

    internal sealed class Handler(RecentActivity recent, NpgsqlDataSource db) : IRequestHandler<Query, Result<Page>>
    {
        private const string ExistsSql = "select exists (select 1 from users where id = @UserId)";

        public async Task<Result<Page>> Handle(Query request, CancellationToken cancellationToken)
        {
            var limit = request.Limit ?? 50;
            IReadOnlyList<ActivityRecord> records;
            bool more;
            if (request.Before is null && limit <= RecentActivity.Size)
            {
                var newest = await recent.NewestAsync(request.UserId, cancellationToken);
                records = [.. newest.Take(limit)];

                // A full cached list may hide older entries; the next page then comes from PostgreSQL.
                more = newest.Count > limit || newest.Count == RecentActivity.Size;
            }
            else
            {
                var page = await recent.PageAsync(request.UserId, request.Before, limit + 1, cancellationToken);
                records = [.. page.Take(limit)];
                more = page.Count > limit;
            }

            // Every account has entries (its registration at least): nothing at all may mean no such user (an admin's typo).
            if (records.Count == 0 && !await UserExistsAsync(request.UserId, cancellationToken))
            {
                return Error.NotFound("User");
            }

            var items = records.Select(r => new Entry(r.Id, r.Kind, r.OccurredAt, r.Ip, r.UserAgent, JsonElement.Parse(r.Details))).ToList();
            return new Page(items, more && items.Count > 0 ? items[^1].Id : null);
        }

        private async Task<bool> UserExistsAsync(Guid userId, CancellationToken ct)
        {
            await using var connection = await db.OpenConnectionAsync(ct);
            return await connection.ExecuteScalarAsync<bool>(new CommandDefinition(ExistsSql, new { UserId = userId }, cancellationToken: ct));
        }
    }

    public static RouteHandlerBuilder MapOwn(IEndpointRouteBuilder api) =>
        api.MapGet("/users/me/activity", Own)
            .WithName("MyActivity")
            .WithSummary("Your activity log (sign-ins, failures, profile and password changes), newest first.")
            .ProducesErrors(400, 401)
            .RequireAuthorization();

    public static RouteHandlerBuilder MapAdmin(IEndpointRouteBuilder admin) =>
        admin.MapGet("/users/{id}/activity", ForUser)
            .WithName("UserActivity")
            .WithSummary("A user's activity log, newest first (404 for no such user).")
            .ProducesErrors(400, 401, 403, 404);

    private static async Task<Results<Ok<Page>, ProblemHttpResult>> Own(IMediator mediator, HttpContext http, CancellationToken ct, long? before = null, int? limit = null) =>
        (await mediator.Send(new Query(CurrentUser.From(http.User)!.Id, before, limit), ct)).OkOrProblem(http);

    private static async Task<Results<Ok<Page>, ProblemHttpResult>> ForUser(Guid id, IMediator mediator, HttpContext http, CancellationToken ct, long? before = null, int? limit = null) =>
        (await mediator.Send(new Query(id, before, limit), ct)).OkOrProblem(http);
}
