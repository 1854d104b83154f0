using Analytics.Api.Infrastructure.Database;
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

namespace Analytics.Api.Features.Identity.Login;

/// <summary>
/// <c>POST /auth/login</c>: e-mail and password for a token pair and a new session. A wrong password and an
/// unknown e-mail give the same 401 after the same work (one Argon2id verification); pending and disabled
/// accounts get 403 only once the password is right; a locked account gets 423 without a password check.
/// </summary>
public static class Login
{
    public sealed record Command(
        string Email,
        string Password,
        string? CountryCode,
        double? Latitude,
        double? Longitude,
        string? Timezone,
        string? ReferrerUrl,
        string? LandingPage,
        string? UtmSource,
        string? UtmMedium,
        string? UtmCampaign,
        string? UtmTerm,
        string? UtmContent) : IRequest<Result<Response>>, IHasAttribution
    {
        internal ClientContext Client { get; init; } = null!;
    }

    public sealed record Response(
        string AccessToken,
        DateTimeOffset AccessTokenExpiresAt,
        string RefreshToken,
        DateTimeOffset RefreshTokenExpiresAt,
        string TokenType,
        Guid SessionId,
        UserView User);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator(PasswordPolicy passwords)
        {
            RuleFor(c => c.Email).ValidEmail();
            RuleFor(c => c.Password).NotEmpty().WithMessage("Password is required.")
                .MaximumLength(passwords.MaxLength).WithMessage($"Password must have at most {passwords.MaxLength} characters.");
            RuleFor(c => c.CountryCode).Matches(@"^[A-Za-z]{2}\z").When(c => c.CountryCode is not null).WithMessage("Country code must be two letters (ISO 3166-1 alpha-2).");
            RuleFor(c => c.Latitude).InclusiveBetween(-90, 90).WithMessage("Latitude must be between -90 and 90.");
            RuleFor(c => c.Longitude).InclusiveBetween(-180, 180).WithMessage("Longitude must be between -180 and 180.");
            RuleFor(c => c.Timezone).MaximumLength(64).WithMessage("Timezone must have at most 64 characters.")
                .Must(tz => tz is null || TimeZoneInfo.TryFindSystemTimeZoneById(tz, out _)).WithMessage("Timezone must be an IANA time zone, e.g. Europe/Paris.");
            Include(new AttributionValidator());
        }
    }

    internal sealed class Handler(
        NpgsqlDataSource db,
        IPasswordHasher hasher,
        Throttle throttle,
        SessionTokens tokens,
        CommittedChanges committed,
        IOptions<SignInOptions> signIn,
        TimeProvider clock) : IRequestHandler<Command, Result<Response>>
    {
        private const string FindUserSql = $"""
            select {UserView.Columns}, u.password_hash as PasswordHash, u.locked_until as LockedUntil
            from users u where u.email = @Email::citext
            """;

        // Counted atomically: concurrent wrong passwords each count, and exactly one of them locks the account.
        private const string CountFailureSql = """
            update users set failed_logins = failed_logins + 1, updated_at = @Now where id = @Id
            returning failed_logins
            """;

        private const string LockSql = "update users set failed_logins = 0, locked_until = @LockedUntil, updated_at = @Now where id = @Id";

        // Only when there is something to clear or a new hash: most sign-ins leave the user's row (and its
        // updated_at) as it was, and cost no row version, index entries or WAL for it.
        private const string SucceededSql = """
            update users set failed_logins = 0, locked_until = null,
                password_hash = coalesce(@NewHash, password_hash), updated_at = @Now
            where id = @UserId and (failed_logins <> 0 or locked_until is not null or @NewHash::text is not null)
            """;

        private const string InsertSessionSql = """
            insert into sessions (id, user_id, ip, user_agent, device_type, browser, browser_version, os, os_version,
                                  device_fingerprint, country_code, latitude, longitude, timezone,
                                  referrer_url, landing_page, utm_source, utm_medium, utm_campaign, utm_term, utm_content,
                                  created_at, last_seen_at, expires_at)
            values (@SessionId, @UserId, @Ip, @UserAgent, @DeviceType, @Browser, @BrowserVersion, @Os, @OsVersion,
                    @Fingerprint, @CountryCode, @Latitude, @Longitude, @Timezone,
                    @ReferrerUrl, @LandingPage, @UtmSource, @UtmMedium, @UtmCampaign, @UtmTerm, @UtmContent,
                    @Now, @Now, @ExpiresAt)
            """;

        // A successful sign-in's check and writes as one command: Npgsql sends the five statements in one round trip, and
        // without an explicit transaction PostgreSQL runs them as one implicit transaction (all or nothing).
        // They share their parameter names: the user, the session, the time and the client are the same in each.
        // First of all, the password and the account are still what was verified (db/migrations/0012_sign_in_guard.sql).
        private const string GuardSql = "select assert_sign_in_current(@UserId, @OldHash)";

        private const string SignInSql = GuardSql + ";\n" + SucceededSql + ";\n" + InsertSessionSql + ";\n" + SessionTokens.InsertSql + ";\n" + ActivityLog.InsertSql;

        /// <summary>The guard's refusal: the password or the account changed while this sign-in verified the old one.</summary>
        private const string ChangedMeanwhile = "AN001";

        private static readonly Error BadCredentials = new(ErrorKind.Unauthorized, "invalid_credentials", "Sign-in failed.", "The e-mail or password is wrong.");

        /// <summary>The per-address sign-in limit's key; an admin's unlock clears it too.</summary>
        internal static string EmailThrottleKey(string normalisedEmail) => $"login:email:{normalisedEmail}";

        public async Task<Result<Response>> Handle(Command request, CancellationToken cancellationToken)
        {
            var email = IdentityRules.Normalise(request.Email);
            var options = signIn.Value;
            var client = request.Client;
            var emailKey = EmailThrottleKey(email);

            // The IP limit first: a client already over it does not spend the victim address's budget.
            var refused = await throttle.HitAsync(
                [($"login:ip:{client.LimitKey}", new RateLimitRule(options.MaxAttemptsPerIp, options.AttemptWindow)), (emailKey, new RateLimitRule(options.MaxAttemptsPerEmail, options.AttemptWindow))],
                "sign-in attempts",
                cancellationToken);
            if (refused is not null)
            {
                return await RecordFailureAsync(null, ActivityEntry.For(null, ActivityKind.LoginThrottled, client, new { email }), refused, cancellationToken);
            }

            UserRow? user;
            await using (var connection = await db.OpenConnectionAsync(cancellationToken))
            {
                user = await connection.QuerySingleOrDefaultAsync<UserRow>(new CommandDefinition(FindUserSql, new { Email = email }, cancellationToken: cancellationToken));
            }

            // No connection is held while hashing: a burst of sign-ins must not drain the pool.
            if (user is null)
            {
                await hasher.SpendOneVerificationAsync(request.Password, cancellationToken);
                return await RecordFailureAsync(null, ActivityEntry.For(null, ActivityKind.LoginFailed, client, new { reason = "unknown_email", email }), BadCredentials, cancellationToken);
            }

            var now = clock.GetUtcNow();
            if (user.LockedUntil is { } lockedUntil && lockedUntil > now.UtcDateTime)
            {
                var locked = new Error(ErrorKind.Locked, "account_locked", "Account locked.", "Too many wrong passwords: the account is locked for a while. Try again later or ask an admin to unlock it.", lockedUntil.AsUtc() - now);
                return await RecordFailureAsync(user.Id, ActivityEntry.For(user.Id, ActivityKind.LoginFailed, client, new { reason = "locked" }), locked, cancellationToken);
            }

            var check = await hasher.VerifyAsync(user.PasswordHash, request.Password, cancellationToken);
            if (!check.Matches)
            {
                return await WrongPasswordAsync(user.Id, client, options, cancellationToken);
            }

            if (user.Status != "active")
            {
                var error = user.Status == "pending"
                    ? new Error(ErrorKind.Forbidden, "account_pending", "Account not activated.", "Activate the account with the link or code from the activation e-mail first.")
                    : new Error(ErrorKind.Forbidden, "account_disabled", "Account disabled.", "This account has been disabled by an administrator.");
                return await RecordFailureAsync(user.Id, ActivityEntry.For(user.Id, ActivityKind.LoginFailed, client, new { reason = error.Code }), error, cancellationToken);
            }

            var newHash = check.NeedsRehash ? await hasher.HashAsync(request.Password, cancellationToken) : null;
            if (await StartSessionAsync(user, request, newHash, cancellationToken) is not { } response)
            {
                return BadCredentials;
            }

            await throttle.ResetAsync(emailKey, CancellationToken.None);
            await committed.ActivityAsync(user.Id);
            return response;
        }

        /// <summary>The new session's tokens; null when the password or the account changed since it was read.</summary>
        private async Task<Response?> StartSessionAsync(UserRow user, Command request, string? newHash, CancellationToken ct)
        {
            var client = request.Client;
            var now = clock.GetUtcNow();
            var sessionId = Guid.CreateVersion7();
            var minted = tokens.Mint(user.Id, user.Role, sessionId, now + tokens.RefreshLifetime, now);
            var activity = ActivityEntry.For(user.Id, ActivityKind.Login, client, new { sessionId, rehashed = newHash is not null });
            await using (var connection = await db.OpenConnectionAsync(ct))
            {
                try
                {
                    await connection.ExecuteAsync(new CommandDefinition(
                        SignInSql,
                        new
                        {
                            UserId = user.Id,
                            OldHash = user.PasswordHash,
                            NewHash = newHash,
                            Now = now,
                            SessionId = sessionId,
                            client.Ip,
                            client.UserAgent,
                            client.Agent.DeviceType,
                            client.Agent.Browser,
                            client.Agent.BrowserVersion,
                            client.Agent.Os,
                            client.Agent.OsVersion,
                            client.Fingerprint,
                            CountryCode = request.CountryCode?.ToUpperInvariant(),
                            request.Latitude,
                            request.Longitude,
                            request.Timezone,
                            request.ReferrerUrl,
                            request.LandingPage,
                            request.UtmSource,
                            request.UtmMedium,
                            request.UtmCampaign,
                            request.UtmTerm,
                            request.UtmContent,
                            minted.ExpiresAt,
                            minted.TokenId,
                            minted.TokenHash,
                            Kind = ActivityLog.KindName(activity.Kind),
                            Details = ActivityLog.DetailsJson(activity),
                        },
                        cancellationToken: ct));
                }
                catch (PostgresException ex) when (ex.SqlState == ChangedMeanwhile)
                {
                    return null;
                }
            }

            var pair = minted.Pair;
            return new Response(pair.AccessToken, pair.AccessTokenExpiresAt, pair.RefreshToken, pair.RefreshTokenExpiresAt, pair.TokenType, sessionId, user.ToRow().ToView());
        }

        private async Task<Result<Response>> WrongPasswordAsync(Guid userId, ClientContext client, SignInOptions options, CancellationToken ct)
        {
            var now = clock.GetUtcNow();
            await using (var connection = await db.OpenConnectionAsync(ct))
            {
                await using var transaction = await connection.BeginTransactionAsync(ct);
                var failures = await connection.ExecuteScalarAsync<int>(new CommandDefinition(CountFailureSql, new { Id = userId, Now = now }, transaction, cancellationToken: ct));
                if (failures >= options.LockoutThreshold)
                {
                    var until = now + options.LockoutDuration;
                    await connection.ExecuteAsync(new CommandDefinition(LockSql, new { Id = userId, LockedUntil = until, Now = now }, transaction, cancellationToken: ct));
                    await ActivityLog.WriteAsync(connection, transaction, ActivityEntry.For(userId, ActivityKind.AccountLocked, client, new { until }), now, ct);
                }

                await ActivityLog.WriteAsync(connection, transaction, ActivityEntry.For(userId, ActivityKind.LoginFailed, client, new { reason = "wrong_password" }), now, ct);
                await transaction.CommitAsync(ct);
            }

            await committed.ActivityAsync(userId);
            return BadCredentials;
        }

        private async Task<Result<Response>> RecordFailureAsync(Guid? userId, ActivityEntry entry, Error error, CancellationToken ct)
        {
            await using (var connection = await db.OpenConnectionAsync(ct))
            {
                await ActivityLog.WriteAsync(connection, null, entry, clock.GetUtcNow(), ct);
            }

            if (userId is { } id)
            {
                await committed.ActivityAsync(id);
            }

            return error;
        }

        private sealed record UserRow(
            Guid Id, string Email, string? DisplayName, short? Age, string? Gender, string Role, string Status, DateTime CreatedAt, DateTime? ActivatedAt,
            string PasswordHash, DateTime? LockedUntil)
        {
            public UserView.Row ToRow() => new(Id, Email, DisplayName, Age, Gender, Role, Status, CreatedAt, ActivatedAt);
        }
    }

    public static RouteHandlerBuilder Map(IEndpointRouteBuilder api) =>
        api.MapPost("/auth/login", Endpoint)
            .WithName("Login")
            .WithSummary("Sign in: an access token, a refresh token and a new session.")
            .WithDescription("401 for a wrong e-mail or password (indistinguishable); 403 with code account_pending or account_disabled; 423 account_locked with Retry-After; 429 with Retry-After and RateLimit-* headers when throttled.")
            .ProducesErrors(400, 401, 403, 423, 429)
            .AllowAnonymous();

    private static async Task<Results<Ok<Response>, ProblemHttpResult>> Endpoint(Command command, IMediator mediator, HttpContext http, CancellationToken ct) =>
        (await mediator.Send(command with { Client = ClientContext.From(http) }, ct)).OkOrProblem(http);
}
