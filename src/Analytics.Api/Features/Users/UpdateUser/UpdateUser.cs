using Analytics.Api.Infrastructure.Activity;
using Analytics.Api.Infrastructure.Auth;
using Analytics.Api.Infrastructure.Clients;
using Analytics.Api.Infrastructure.Database;
using Analytics.Api.Infrastructure.OpenApi;
using Analytics.Api.Infrastructure.RateLimiting;
using Analytics.Api.Infrastructure.Results;
using Dapper;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Analytics.Api.Features.Users.UpdateUser;

/// <summary>
/// <c>PATCH /admin/users/{id}</c>: role, status (active / disabled) and unlock. The last active admin cannot be
/// demoted or disabled. Changes reach the user's live tokens on their next request; disabling ends the user's sessions
/// for good (enabling the account again does not bring them back).
/// </summary>
public static class UpdateUser
{
    public sealed record Command(string? Role, string? Status, bool? Unlock) : IRequest<Result<AdminUserView>>
    {
        internal Guid Id { get; init; }

        internal CurrentUser Admin { get; init; } = null!;

        internal ClientContext Client { get; init; } = null!;
    }

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(c => c.Role).Must(r => r is null or Roles.User or Roles.Admin).WithMessage("Role must be 'user' or 'admin'.");
            RuleFor(c => c.Status).Must(s => s is null or "active" or "disabled").WithMessage("Status must be 'active' or 'disabled'.");
            RuleFor(c => c).Must(c => c.Role is not null || c.Status is not null || c.Unlock == true)
                .WithName("body").WithMessage("Send at least one of role, status or unlock: true.");
        }
    }

    internal sealed class Handler(NpgsqlDataSource db, CommittedChanges committed, Throttle throttle, TimeProvider clock) : IRequestHandler<Command, Result<AdminUserView>>
    {
        // Locks every active admin row, so two admins demoting each other at once cannot both succeed.
        private const string ActiveAdminsSql = $"select id from users where role = 'admin' and status = 'active' order by id {AccountLock.Clause}";

        private const string CurrentSql = $"select role as Role, status as Status, email as Email, coalesce(locked_until > now(), false) as Locked from users where id = @Id {AccountLock.Clause}";

        private const string UpdateSql = """
            update users set role = coalesce(@Role, role), status = coalesce(@Status, status),
                locked_until = case when @Unlock then null else locked_until end,
                failed_logins = case when @Unlock then 0 else failed_logins end,
                updated_at = @Now
            where id = @Id
            """;

        private const string ViewSql = $"select {AdminUserView.Columns} from users u where u.id = @Id";

        // A disabled account's sessions end for good: enabling it again must not bring back a token taken before.
        private const string RevokeSessionsSql = """
            update sessions set revoked_at = @Now, revoked_reason = 'account_disabled'
            where user_id = @Id and revoked_at is null
            returning id
            """;

        public async Task<Result<AdminUserView>> Handle(Command request, CancellationToken cancellationToken)
        {
            var now = clock.GetUtcNow();
            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var admins = (await connection.QueryAsync<Guid>(new CommandDefinition(ActiveAdminsSql, transaction: transaction, cancellationToken: cancellationToken))).ToList();
            if (!admins.Contains(request.Admin.Id))
            {
                // Authenticated as an admin before another admin's change (demotion, disabling) committed: a change made
                // now would undo or outlive it.
                return new Error(ErrorKind.Forbidden, "not_admin", "Not an admin.", "Your account is no longer an active admin.");
            }

            var current = await connection.QuerySingleOrDefaultAsync<(string Role, string Status, string Email, bool Locked)?>(new CommandDefinition(CurrentSql, new { request.Id }, transaction, cancellationToken: cancellationToken));
            if (current is not { } before)
            {
                return Error.NotFound("User");
            }

            if (before.Status == "pending" && request.Status is not null)
            {
                return new Error(ErrorKind.Conflict, "account_pending", "Account is pending.", "A pending account is activated by its owner through the activation e-mail; its status cannot be set yet.");
            }

            var losesAdmin = admins.Contains(request.Id) && (request.Role == Roles.User || request.Status == "disabled");
            if (losesAdmin && admins.Count == 1)
            {
                return new Error(ErrorKind.Conflict, "last_admin", "Last admin.", "This is the only active admin: promote another admin first.");
            }

            await connection.ExecuteAsync(new CommandDefinition(UpdateSql, new { request.Id, request.Role, request.Status, Unlock = request.Unlock == true, Now = now }, transaction, cancellationToken: cancellationToken));
            // The account's log says what was done to it and by which admin, not from where: the admin's address and browser
            // are the admin's, recorded in the admin's own log with what they did.
            List<ActivityEntry> entries = [];
            var by = request.Admin.Id;
            if (request.Role is { } role && role != before.Role)
            {
                entries.Add(new(request.Id, ActivityKind.RoleChanged, null, null, new { by, from = before.Role, to = role }));
            }

            List<Guid> revoked = [];
            if (request.Status is { } status && status != before.Status)
            {
                if (status == "disabled")
                {
                    revoked = [.. await connection.QueryAsync<Guid>(new CommandDefinition(RevokeSessionsSql, new { request.Id, Now = now }, transaction, cancellationToken: cancellationToken))];
                }

                entries.Add(new(request.Id, ActivityKind.StatusChanged, null, null, new { by, from = before.Status, to = status, sessionsRevoked = revoked.Count }));
            }

            if (request.Unlock == true && before.Locked)
            {
                entries.Add(new(request.Id, ActivityKind.AccountUnlocked, null, null, new { by }));
            }

            if (entries.Count > 0)
            {
                entries.Add(ActivityEntry.For(by, ActivityKind.UserUpdated, request.Client, new { user = request.Id, changes = entries.Select(e => ActivityLog.KindName(e.Kind)).ToArray() }));
            }

            foreach (var entry in entries)
            {
                await ActivityLog.WriteAsync(connection, transaction, entry, now, cancellationToken);
            }

            var view = await connection.QuerySingleAsync<AdminUserView.Row>(new CommandDefinition(ViewSql, new { request.Id }, transaction, cancellationToken: cancellationToken));
            await transaction.CommitAsync(cancellationToken);
            await committed.UserAsync(request.Id, revoked);
            if (entries.Count > 0)
            {
                await committed.ActivityAsync(by);
            }
            if (request.Unlock == true)
            {
                // The per-address sign-in limit too: attempts spread over the lockout's build-up usually fill it, and
                // the unlocked owner would otherwise still get 429 for the rest of its window.
                await throttle.ResetAsync(Identity.Login.Login.Handler.EmailThrottleKey(before.Email), CancellationToken.None);
            }

            return view.ToView();
        }
    }

    public static RouteHandlerBuilder Map(IEndpointRouteBuilder admin) =>
        admin.MapPatch("/users/{id}", Endpoint)
            .WithName("UpdateUser")
            .WithSummary("Change a user's role or status, or unlock a locked account.")
            .WithDescription("Disabling ends the user's sessions (enabling again does not restore them). 403 not_admin when the caller stopped being an active admin; 409 last_admin when the change would leave no active admin.")
            .ProducesErrors(400, 401, 403, 404, 409);

    private static async Task<Results<Ok<AdminUserView>, ProblemHttpResult>> Endpoint(Guid id, Command command, IMediator mediator, HttpContext http, CancellationToken ct) =>
        (await mediator.Send(command with { Id = id, Admin = CurrentUser.From(http.User)!, Client = ClientContext.From(http) }, ct)).OkOrProblem(http);
}
