using Analytics.Api.Infrastructure.Activity;
using Analytics.Api.Infrastructure.Auth;
using Analytics.Api.Infrastructure.Clients;
using Analytics.Api.Infrastructure.Database;
using Analytics.Api.Infrastructure.OpenApi;
using Analytics.Api.Infrastructure.RateLimiting;
using Analytics.Api.Infrastructure.Results;
using Analytics.Api.Infrastructure.Security;
using Dapper;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Analytics.Api.Features.Identity.ChangePassword;

/// <summary><c>POST /users/me/password</c>: needs the current password; ends every other session of the account.</summary>
public static class ChangePassword
{
    public sealed record Command(string CurrentPassword, string NewPassword) : IRequest<Result<Response>>
    {
        internal CurrentUser User { get; init; } = null!;

        internal ClientContext Client { get; init; } = null!;
    }

    public sealed record Response(int OtherSessionsRevoked);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator(PasswordPolicy passwords)
        {
            RuleFor(c => c.CurrentPassword).NotEmpty().WithMessage("Current password is required.")
                .MaximumLength(passwords.MaxLength).WithMessage($"Current password must have at most {passwords.MaxLength} characters.");
            RuleFor(c => c.NewPassword).Custom((password, context) =>
            {
                if (passwords.Check(password, null) is { } problem)
                {
                    context.AddFailure(problem);
                }
                else if (password == context.InstanceToValidate.CurrentPassword)
                {
                    context.AddFailure("New password must differ from the current one.");
                }
            });
        }
    }

    internal sealed class Handler(NpgsqlDataSource db, IPasswordHasher hasher, PasswordPolicy passwords, Throttle throttle, CommittedChanges committed, IOptions<SignInOptions> signIn, TimeProvider clock)
        : IRequestHandler<Command, Result<Response>>
    {
        private const string UserSql = "select email, password_hash from users where id = @UserId";

        private const string SessionLiveSql = $"select exists (select 1 from sessions s join users u on u.id = s.user_id where s.id = @SessionId and s.user_id = @UserId and {SessionGate.LiveSql})";

        // The account's row is locked before anything else (a concurrent password change holds it while it ends this
        // session); then, with what committed meanwhile in view, the hash is replaced only if it is still the one the
        // current password was checked against and the caller's session is still live.
        private const string UpdateSql = $"""
            update users set password_hash = @Hash, updated_at = @Now
            where id = @UserId and password_hash = @CheckedHash and ({SessionLiveSql})
            """;

        private static readonly Error SessionEnded = new(ErrorKind.Unauthorized, "session_ended", "Session ended.", "This session was signed out while the request was checked; the password was not changed. Sign in again.");

        private const string RevokeOthersSql = """
            update sessions set revoked_at = @Now, revoked_reason = 'password_changed'
            where user_id = @UserId and id <> @SessionId and revoked_at is null
            returning id
            """;

        public async Task<Result<Response>> Handle(Command request, CancellationToken cancellationToken)
        {
            var user = request.User;

            // A stolen access token must not become an oracle for guessing the current password.
            var rule = new RateLimitRule(signIn.Value.MaxPasswordChangesPerUser, signIn.Value.AttemptWindow);
            if (await throttle.HitAsync([($"password-change:user:{user.Id}", rule)], "password changes", cancellationToken) is { } refused)
            {
                return refused;
            }

            // The hash is replaced only if it is still the one the current password was checked against and the
            // caller's session is still live: of two changes at once, the second finds the first's hash and checks
            // against it (its current password is wrong now), and a session ended meanwhile changes nothing. A
            // sign-in's rehash (same password, new parameters) between the check and the write is checked again.
            string? newHash = null;
            for (var attempt = 0; ; attempt++)
            {
                string email, hash;
                await using (var reader = await db.OpenConnectionAsync(cancellationToken))
                {
                    (email, hash) = await reader.QuerySingleAsync<(string, string)>(new CommandDefinition(UserSql, new { UserId = user.Id }, cancellationToken: cancellationToken));
                }

                // Hashing happens with no connection held, so a burst cannot drain the pool.
                if (!(await hasher.VerifyAsync(hash, request.CurrentPassword, cancellationToken)).Matches)
                {
                    // Recorded like a failed sign-in: a stolen access token guessing the password shows in the account's activity.
                    await using (var log = await db.OpenConnectionAsync(cancellationToken))
                    {
                        await ActivityLog.WriteAsync(log, null, ActivityEntry.For(user.Id, ActivityKind.PasswordChangeFailed, request.Client, new { reason = "wrong_current_password" }), clock.GetUtcNow(), cancellationToken);
                    }

                    await committed.ActivityAsync(user.Id);
                    return new Error(ErrorKind.Invalid, "wrong_password", "Current password is wrong.", "The current password does not match; the password was not changed.");
                }

                // The rules registration applies with the address (the validator has no address): neither the address nor its local part.
                if (passwords.Check(request.NewPassword, email) is { } problem)
                {
                    return new Error(ErrorKind.Invalid, "password_is_email", "Password not allowed.", problem);
                }

                newHash ??= await hasher.HashAsync(request.NewPassword, cancellationToken);
                var now = clock.GetUtcNow();
                await using var connection = await db.OpenConnectionAsync(cancellationToken);
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                await AccountLock.LockAsync(connection, transaction, user.Id, cancellationToken);
                var changed = await connection.ExecuteAsync(new CommandDefinition(UpdateSql, new { UserId = user.Id, user.SessionId, Hash = newHash, CheckedHash = hash, Now = now }, transaction, cancellationToken: cancellationToken));
                if (changed == 0)
                {
                    await transaction.RollbackAsync(cancellationToken);
                    if (!await connection.ExecuteScalarAsync<bool>(new CommandDefinition(SessionLiveSql, new { UserId = user.Id, user.SessionId, Now = now }, cancellationToken: cancellationToken)))
                    {
                        return SessionEnded;
                    }

                    if (attempt < 2)
                    {
                        continue;
                    }

                    return new Error(ErrorKind.Conflict, "password_changed_meanwhile", "Password changed meanwhile.", "The password changed while this request was checked; the password was not changed. Try again.");
                }

                var revoked = (await connection.QueryAsync<Guid>(new CommandDefinition(RevokeOthersSql, new { UserId = user.Id, user.SessionId, Now = now }, transaction, cancellationToken: cancellationToken))).ToList();
                await ActivityLog.WriteAsync(connection, transaction, ActivityEntry.For(user.Id, ActivityKind.PasswordChanged, request.Client, new { otherSessionsRevoked = revoked.Count }), now, cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                await committed.SessionsAsync(user.Id, revoked);
                return new Response(revoked.Count);
            }
        }
    }

    public static RouteHandlerBuilder Map(IEndpointRouteBuilder api) =>
        api.MapPost("/users/me/password", Endpoint)
            .WithName("ChangePassword")
            .WithSummary("Change the password; every other session is signed out.")
            .ProducesErrors(400, 401, 409, 429)
            .RequireAuthorization();

    private static async Task<Results<Ok<Response>, ProblemHttpResult>> Endpoint(Command command, IMediator mediator, HttpContext http, CancellationToken ct) =>
        (await mediator.Send(command with { User = CurrentUser.From(http.User)!, Client = ClientContext.From(http) }, ct)).OkOrProblem(http);
}
