using Analytics.Api.Infrastructure.Database;
using Analytics.Api.Infrastructure.Activity;
using Analytics.Api.Infrastructure.Auth;
using Analytics.Api.Infrastructure.Clients;
using Analytics.Api.Infrastructure.OpenApi;
using Analytics.Api.Infrastructure.Results;
using Analytics.Api.Infrastructure.Security;
using Dapper;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Analytics.Api.Features.Identity.Refresh;

/// <summary>
/// <c>POST /auth/refresh</c>: trades a refresh token for a new pair and spends it. A spent token presented again
/// means two parties hold it: the whole session (its token family) is revoked, except once within a short grace
/// window after rotation, where a client that lost the response (or a second tab) gets a working pair again. A
/// further exchange in the window is reuse too: a stolen token cannot be replayed into a tree of live branches.
/// </summary>
public static class Refresh
{
    public sealed record Command(string RefreshToken) : IRequest<Result<TokenPair>>
    {
        internal ClientContext Client { get; init; } = null!;
    }

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(c => c.RefreshToken).NotEmpty().WithMessage("Refresh token is required.")
            .MaximumLength(100).WithMessage("Refresh token must have at most 100 characters.");
    }

    internal sealed class Handler(NpgsqlDataSource db, SessionTokens tokens, CommittedChanges committed, IOptions<JwtOptions> jwt, TimeProvider clock)
        : IRequestHandler<Command, Result<TokenPair>>
    {
        private const string FindSql = """
            select t.id as TokenId, t.rotated_at as RotatedAt, t.grace_used_at as GraceUsedAt, t.expires_at as TokenExpiresAt,
                   s.id as SessionId, s.user_id as UserId, s.revoked_at as RevokedAt, s.expires_at as SessionExpiresAt,
                   u.role as Role, u.status as Status
            from refresh_tokens t
            join sessions s on s.id = t.session_id
            join users u on u.id = s.user_id
            where t.token_hash = @TokenHash
            for update of s, t
            """;

        // Spends the presented token. In the grace window it is already spent and its successor stays valid, so two
        // tabs racing on one token both keep working pairs instead of one of them later tripping reuse detection; the
        // window's one exchange is marked as used.
        private const string RotateSql = """
            update refresh_tokens set rotated_at = coalesce(rotated_at, @Now), replaced_by = coalesce(replaced_by, @ReplacedBy),
                                      grace_used_at = case when rotated_at is null then null else @Now end
            where id = @TokenId
            """;

        private const string TouchSessionSql = "update sessions set last_seen_at = @Now where id = @SessionId";

        private const string RevokeSessionSql = "update sessions set revoked_at = @Now, revoked_reason = 'token_reuse' where id = @SessionId and revoked_at is null";

        private static readonly Error Invalid = new(ErrorKind.Unauthorized, "invalid_refresh_token", "Refresh failed.", "The refresh token is not valid, has expired, or its session has ended. Sign in again.");

        public async Task<Result<TokenPair>> Handle(Command request, CancellationToken cancellationToken)
        {
            var now = clock.GetUtcNow();
            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var token = await connection.QuerySingleOrDefaultAsync<TokenRow>(new CommandDefinition(FindSql, new { TokenHash = OpaqueTokens.Hash(request.RefreshToken) }, transaction, cancellationToken: cancellationToken));
            if (token is null || token.RevokedAt is not null || token.SessionExpiresAt <= now.UtcDateTime || token.TokenExpiresAt <= now.UtcDateTime || token.Status != "active")
            {
                return Invalid;
            }

            if (token.RotatedAt is { } rotatedAt && (now.UtcDateTime - rotatedAt > jwt.Value.RefreshReuseGrace || token.GraceUsedAt is not null))
            {
                await connection.ExecuteAsync(new CommandDefinition(RevokeSessionSql, new { token.SessionId, Now = now }, transaction, cancellationToken: cancellationToken));
                await ActivityLog.WriteAsync(connection, transaction, ActivityEntry.For(token.UserId, ActivityKind.TokenReuseDetected, request.Client, new { sessionId = token.SessionId }), now, cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                await committed.SessionsAsync(token.UserId, token.SessionId);
                return new Error(ErrorKind.Unauthorized, "refresh_token_reused", "Refresh token reused.", "This refresh token was already used. As a precaution the session has been ended; sign in again.");
            }

            var (pair, newId) = await tokens.IssueAsync(connection, transaction, token.UserId, token.Role, token.SessionId, token.SessionExpiresAt.AsUtc(), now, cancellationToken);
            await connection.ExecuteAsync(new CommandDefinition(RotateSql, new { token.TokenId, ReplacedBy = newId, Now = now }, transaction, cancellationToken: cancellationToken));
            await connection.ExecuteAsync(new CommandDefinition(TouchSessionSql, new { token.SessionId, Now = now }, transaction, cancellationToken: cancellationToken));
            await ActivityLog.WriteAsync(connection, transaction, ActivityEntry.For(token.UserId, ActivityKind.Refresh, request.Client, new { sessionId = token.SessionId, grace = token.RotatedAt is not null }), now, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            await committed.ActivityAsync(token.UserId);
            return pair;
        }

        private sealed record TokenRow(Guid TokenId, DateTime? RotatedAt, DateTime? GraceUsedAt, DateTime TokenExpiresAt, Guid SessionId, Guid UserId, DateTime? RevokedAt, DateTime SessionExpiresAt, string Role, string Status);
    }

    public static RouteHandlerBuilder Map(IEndpointRouteBuilder api) =>
        api.MapPost("/auth/refresh", Endpoint)
            .WithName("Refresh")
            .WithSummary("Rotate a refresh token: a new access and refresh token; the old refresh token is spent.")
            .WithDescription("A spent refresh token presented again revokes its session (401 refresh_token_reused), except once within the grace window after its rotation (Jwt__RefreshReuseGrace), which answers a working pair again.")
            .ProducesErrors(400, 401)
            .AllowAnonymous();

    private static async Task<Results<Ok<TokenPair>, ProblemHttpResult>> Endpoint(Command command, IMediator mediator, HttpContext http, CancellationToken ct) =>
        (await mediator.Send(command with { Client = ClientContext.From(http) }, ct)).OkOrProblem(http);
}
