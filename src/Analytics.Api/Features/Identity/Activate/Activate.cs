using System.Security.Cryptography;
using Analytics.Api.Infrastructure.Activity;
using Analytics.Api.Infrastructure.Clients;
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

namespace Analytics.Api.Features.Identity.Activate;

/// <summary>
/// <c>POST /auth/activate</c>: the link token, or the e-mail and the 6-digit code, from an activation e-mail.
/// Activates a pending account, or confirms the new address of an e-mail change.
/// </summary>
public static class Activate
{
    public sealed record Command(string? Token, string? Email, string? Code) : IRequest<Result<UserView>>
    {
        internal ClientContext Client { get; init; } = null!;
    }

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(c => c).Must(c => !string.IsNullOrEmpty(c.Token) || (!string.IsNullOrEmpty(c.Email) && !string.IsNullOrEmpty(c.Code)))
                .WithName("token").WithMessage("Send either 'token' (from the link) or 'email' and 'code'.");
            RuleFor(c => c.Token).MaximumLength(100).WithMessage("Token must have at most 100 characters.");
            When(c => c.Email is not null, () => RuleFor(c => c.Email).ValidEmail());
            RuleFor(c => c.Code).Matches(@"^[0-9]{6}\z").When(c => c.Code is not null).WithMessage("Code must be the 6 digits from the e-mail.");
        }
    }

    internal sealed class Handler(NpgsqlDataSource db, Throttle throttle, CommittedChanges committed, IOptions<ActivationOptions> options, IOptions<SignInOptions> signIn, TimeProvider clock)
        : IRequestHandler<Command, Result<UserView>>
    {
        private const string ByTokenSql = """
            select t.id as Id, t.user_id as UserId, t.code_hash as CodeHash, t.attempts as Attempts,
                   t.expires_at as ExpiresAt, t.used_at as UsedAt, t.email as NewEmail
            from activation_tokens t
            where t.token_hash = @TokenHash
            for update
            """;

        // The newest mail sent to that address: an account's own (no t.email), or a new address it is moving to.
        // Two indexed lookups; FOR UPDATE cannot lock through a UNION, so the winner is locked by id afterwards.
        private const string NewestIdByEmailSql = """
            select id from (
                select t.id, t.created_at from activation_tokens t join users u on u.id = t.user_id
                where u.email = @Email::citext and t.email is null
                union all
                select t.id, t.created_at from activation_tokens t where t.email = @Email::citext
            ) candidates
            order by created_at desc
            limit 1
            """;

        private const string ByIdSql = """
            select t.id as Id, t.user_id as UserId, t.code_hash as CodeHash, t.attempts as Attempts,
                   t.expires_at as ExpiresAt, t.used_at as UsedAt, t.email as NewEmail
            from activation_tokens t
            where t.id = @Id
            for update
            """;

        private const string CountAttemptSql = "update activation_tokens set attempts = attempts + 1 where id = @Id";

        private const string UseTokenSql = "update activation_tokens set used_at = @Now where id = @Id";

        private const string ActivateUserSql = $"""
            update users u set status = 'active', activated_at = coalesce(activated_at, @Now), updated_at = @Now
            where id = @UserId and status = 'pending'
            returning {UserView.Columns}
            """;

        private const string ChangeEmailSql = $"""
            update users u set email = pending_email, pending_email = null, updated_at = @Now
            where id = @UserId and status = 'active' and pending_email = @NewEmail::citext
              and not exists (select 1 from users other where other.email = @NewEmail::citext)
            returning {UserView.Columns}
            """;

        private static readonly Error Invalid = new(ErrorKind.Invalid, "activation_invalid", "Activation failed.", "The activation token or code is not valid. Check the e-mail, or ask for a new one.");

        public async Task<Result<UserView>> Handle(Command request, CancellationToken cancellationToken)
        {
            var byToken = !string.IsNullOrEmpty(request.Token);
            var limits = signIn.Value;
            List<(string, RateLimitRule)> attempts = [($"activate:ip:{request.Client.LimitKey}", new RateLimitRule(limits.MaxActivationsPerIp, limits.AttemptWindow))];
            if (!byToken)
            {
                // Six digits are guessable: cap the guesses per address across every code it is sent.
                attempts.Add(($"activate:email:{IdentityRules.Normalise(request.Email!)}", new RateLimitRule(limits.MaxCodeAttemptsPerEmail, limits.ResendWindow)));
            }

            if (await throttle.HitAsync(attempts, "activation attempts", cancellationToken) is { } refused)
            {
                return refused;
            }

            var now = clock.GetUtcNow();
            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var token = byToken
                ? await connection.QuerySingleOrDefaultAsync<TokenRow>(new CommandDefinition(ByTokenSql, new { TokenHash = OpaqueTokens.Hash(request.Token!) }, transaction, cancellationToken: cancellationToken))
                : await connection.ExecuteScalarAsync<Guid?>(new CommandDefinition(NewestIdByEmailSql, new { Email = IdentityRules.Normalise(request.Email!) }, transaction, cancellationToken: cancellationToken)) is { } id
                    ? await connection.QuerySingleOrDefaultAsync<TokenRow>(new CommandDefinition(ByIdSql, new { Id = id }, transaction, cancellationToken: cancellationToken))
                    : null;

            if (token is null)
            {
                return Invalid;
            }

            if (token.UsedAt is not null)
            {
                return new Error(ErrorKind.Gone, "activation_used", "Activation already used.", "This activation e-mail was already used. Sign in, or ask for a new e-mail if the account is still pending.");
            }

            if (!byToken)
            {
                if (token.Attempts >= options.Value.MaxCodeAttempts)
                {
                    return new Error(ErrorKind.Gone, "activation_code_exhausted", "Too many wrong codes.", "This code no longer works after too many wrong attempts; ask for a new activation e-mail.");
                }

                if (!CryptographicOperations.FixedTimeEquals(token.CodeHash, ActivationMail.CodeHash(token.UserId, request.Code!)))
                {
                    await connection.ExecuteAsync(new CommandDefinition(CountAttemptSql, new { token.Id }, transaction, cancellationToken: cancellationToken));
                    await transaction.CommitAsync(cancellationToken);
                    return Invalid;
                }
            }

            if (token.ExpiresAt <= now.UtcDateTime)
            {
                return new Error(ErrorKind.Gone, "activation_expired", "Activation expired.", "This activation e-mail has expired or was replaced by a newer one; ask for a new one.");
            }

            await connection.ExecuteAsync(new CommandDefinition(UseTokenSql, new { token.Id, Now = now }, transaction, cancellationToken: cancellationToken));
            var isEmailChange = token.NewEmail is not null;
            UserView.Row? user;
            try
            {
                user = await connection.QuerySingleOrDefaultAsync<UserView.Row>(new CommandDefinition(
                    isEmailChange ? ChangeEmailSql : ActivateUserSql,
                    new { token.UserId, token.NewEmail, Now = now },
                    transaction,
                    cancellationToken: cancellationToken));
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
            {
                // Someone registered the address between the check and the update.
                user = null;
            }

            if (user is null)
            {
                return isEmailChange
                    ? new Error(ErrorKind.Conflict, "email_change_superseded", "E-mail change not possible.", "The address is taken by now, or a newer e-mail change replaced this one.")
                    : new Error(ErrorKind.Conflict, "not_pending", "Account is not pending.", "This account is already active or has been disabled.");
            }

            var kind = isEmailChange ? ActivityKind.ProfileUpdated : ActivityKind.Activated;
            await ActivityLog.WriteAsync(connection, transaction, ActivityEntry.For(user.Id, kind, request.Client, new { method = byToken ? "link" : "code", emailChanged = isEmailChange }), now, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            await committed.ActivityAsync(user.Id);
            if (!isEmailChange)
            {
                await committed.UsersCountedAsync();
            }
            return user.ToView();
        }

        private sealed record TokenRow(Guid Id, Guid UserId, byte[] CodeHash, int Attempts, DateTime ExpiresAt, DateTime? UsedAt, string? NewEmail);
    }

    public static RouteHandlerBuilder Map(IEndpointRouteBuilder api) =>
        api.MapPost("/auth/activate", Endpoint)
            .WithName("Activate")
            .WithSummary("Activate a pending account with the link token, or with e-mail and 6-digit code.")
            .WithDescription("400 for a wrong token or code; 410 when it expired, was already used, or its code had too many wrong attempts.")
            .ProducesErrors(400, 409, 410, 429)
            .AllowAnonymous();

    private static async Task<Results<Ok<UserView>, ProblemHttpResult>> Endpoint(Command command, IMediator mediator, HttpContext http, CancellationToken ct)
    {
        var result = await mediator.Send(command with { Client = ClientContext.From(http) }, ct);
        return result.OkOrProblem(http);
    }
}
