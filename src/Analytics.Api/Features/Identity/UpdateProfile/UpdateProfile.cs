using Analytics.Api.Infrastructure.Activity;
using Analytics.Api.Infrastructure.Auth;
using Analytics.Api.Infrastructure.Clients;
using Analytics.Api.Infrastructure.OpenApi;
using Analytics.Api.Infrastructure.RateLimiting;
using Analytics.Api.Infrastructure.Results;
using Dapper;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Analytics.Api.Features.Identity.UpdateProfile;

/// <summary>
/// <c>PATCH /users/me</c>: fields left out (or null) stay as they are; an empty display name clears it. A new
/// e-mail address takes effect only when confirmed through the mail sent to it.
/// </summary>
public static class UpdateProfile
{
    public sealed record Command(string? DisplayName, int? Age, Gender? Gender, string? Email) : IRequest<Result<Response>>, IHasProfile
    {
        internal CurrentUser User { get; init; } = null!;

        internal ClientContext Client { get; init; } = null!;
    }

    /// <summary><paramref name="PendingEmail"/> is the address awaiting confirmation, if any.</summary>
    public sealed record Response(UserView User, string? PendingEmail);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            Include(new ProfileValidator());
            When(c => c.Email is not null, () => RuleFor(c => c.Email).ValidEmail());
            RuleFor(c => c).Must(c => c.DisplayName is not null || c.Age is not null || c.Gender is not null || c.Email is not null)
                .WithName("body").WithMessage("Send at least one of displayName, age, gender or email.");
        }
    }

    internal sealed class Handler(NpgsqlDataSource db, Throttle throttle, CommittedChanges committed, IOptions<ActivationOptions> activation, IOptions<SignInOptions> signIn, TimeProvider clock)
        : IRequestHandler<Command, Result<Response>>
    {
        private const string UpdateSql = $"""
            update users u set
                display_name = case when @DisplayName is null then display_name else nullif(@DisplayName, '') end,
                age = coalesce(@Age, age),
                gender = coalesce(@Gender, gender),
                pending_email = case when @Withdraw then null else coalesce(@PendingEmail, pending_email) end,
                updated_at = @Now
            where id = @UserId
            returning {UserView.Columns}, u.pending_email as PendingEmail
            """;

        private const string EmailTakenSql = "select exists (select 1 from users where email = @Email::citext and id <> @UserId)";

        private const string CurrentEmailSql = "select email as Email, pending_email as Pending from users where id = @UserId";

        public async Task<Result<Response>> Handle(Command request, CancellationToken cancellationToken)
        {
            var now = clock.GetUtcNow();
            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var userId = request.User.Id;
            string? newEmail = null;
            var withdraw = false;
            if (request.Email is not null)
            {
                var email = IdentityRules.Normalise(request.Email);
                var current = await connection.QuerySingleAsync<(string Email, string? Pending)>(new CommandDefinition(CurrentEmailSql, new { UserId = userId }, transaction, cancellationToken: cancellationToken));
                if (email == current.Email)
                {
                    // Back to the address in use: a change still awaiting confirmation (a typo) is withdrawn, and the
                    // link and code mailed for it stop working (the confirmation requires the pending address).
                    withdraw = current.Pending is not null;
                }
                else
                {
                    // Each change mails the new address a fresh code: limit it per account and per address. Counted
                    // before the address is looked up, so that the 409 below cannot be used to test addresses freely.
                    var rule = new RateLimitRule(signIn.Value.MaxEmailChangesPerUser, signIn.Value.ResendWindow);
                    if (await throttle.HitAsync([($"email-change:user:{userId}", rule), ($"email-change:to:{email}", rule)], "e-mail changes", cancellationToken) is { } refused)
                    {
                        return refused;
                    }

                    if (await connection.ExecuteScalarAsync<bool>(new CommandDefinition(EmailTakenSql, new { Email = email, UserId = userId }, transaction, cancellationToken: cancellationToken)))
                    {
                        return new Error(ErrorKind.Conflict, "email_taken", "E-mail already registered.", "Another account uses this e-mail address.");
                    }

                    newEmail = email;
                }
            }

            var row = await connection.QuerySingleAsync<Row>(new CommandDefinition(
                UpdateSql,
                new { UserId = userId, DisplayName = request.DisplayName?.Trim(), Age = (short?)request.Age, Gender = UserView.GenderText(request.Gender), PendingEmail = newEmail, Withdraw = withdraw, Now = now },
                transaction,
                cancellationToken: cancellationToken));
            if (newEmail is not null)
            {
                await ActivationMail.SendAsync(connection, transaction, userId, newEmail, activation.Value, now, cancellationToken, isEmailChange: true);
            }

            var changed = new[] { ("displayName", request.DisplayName is not null), ("age", request.Age is not null), ("gender", request.Gender is not null), ("email", newEmail is not null || withdraw) }
                .Where(f => f.Item2).Select(f => f.Item1).ToArray();
            if (changed.Length > 0)
            {
                // Not for the current address sent back with no change awaiting confirmation: nothing changed.
                await ActivityLog.WriteAsync(connection, transaction, ActivityEntry.For(userId, ActivityKind.ProfileUpdated, request.Client, new { fields = changed }), now, cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
            await committed.ActivityAsync(userId);
            if (request.Age is not null || request.Gender is not null)
            {
                await committed.DemographicsAsync(userId);
            }

            return new Response(row.ToRow().ToView(), row.PendingEmail);
        }

        private sealed record Row(Guid Id, string Email, string? DisplayName, short? Age, string? Gender, string Role, string Status, DateTime CreatedAt, DateTime? ActivatedAt, string? PendingEmail)
        {
            public UserView.Row ToRow() => new(Id, Email, DisplayName, Age, Gender, Role, Status, CreatedAt, ActivatedAt);
        }
    }

    public static RouteHandlerBuilder Map(IEndpointRouteBuilder api) =>
        api.MapPatch("/users/me", Endpoint)
            .WithName("UpdateProfile")
            .WithSummary("Change display name, age, gender or e-mail (a new e-mail is confirmed through a mail sent to it; the current one withdraws a pending change).")
            .ProducesErrors(400, 401, 409, 429)
            .RequireAuthorization();

    private static async Task<Results<Ok<Response>, ProblemHttpResult>> Endpoint(Command command, IMediator mediator, HttpContext http, CancellationToken ct) =>
        (await mediator.Send(command with { User = CurrentUser.From(http.User)!, Client = ClientContext.From(http) }, ct)).OkOrProblem(http);
}
