using Analytics.Api.Infrastructure.Auth;
using Analytics.Api.Infrastructure.Security;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Analytics.Api.Features.Identity;

/// <summary>An access token and the refresh token that renews it.</summary>
public sealed record TokenPair(string AccessToken, DateTimeOffset AccessTokenExpiresAt, string RefreshToken, DateTimeOffset RefreshTokenExpiresAt)
{
    public string TokenType => "Bearer";
}

/// <summary>Mints token pairs for a session: shared by Login (a new session) and Refresh (rotation within one).</summary>
public sealed class SessionTokens(AccessTokens accessTokens, IOptions<JwtOptions> jwt)
{
    /// <summary>Stores a <see cref="Minted"/> token's hash; its parameters are the <see cref="Minted"/> record's.</summary>
    internal const string InsertSql = """
        insert into refresh_tokens (id, session_id, token_hash, created_at, expires_at)
        values (@TokenId, @SessionId, @TokenHash, @Now, @ExpiresAt)
        """;

    public TimeSpan RefreshLifetime => jwt.Value.RefreshTokenLifetime;

    /// <summary>A new pair, not yet stored: the caller runs <see cref="InsertSql"/> with it in its own transaction.</summary>
    internal Minted Mint(Guid userId, string role, Guid sessionId, DateTimeOffset sessionExpiresAt, DateTimeOffset now)
    {
        var refresh = OpaqueTokens.New();
        var access = accessTokens.Issue(userId, role, sessionId);
        return new Minted(
            new TokenPair(access.Token, access.ExpiresAt, refresh, sessionExpiresAt),
            Guid.CreateVersion7(),
            sessionId,
            OpaqueTokens.Hash(refresh),
            now,
            sessionExpiresAt);
    }

    public async Task<(TokenPair Pair, Guid RefreshTokenId)> IssueAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid userId, string role, Guid sessionId, DateTimeOffset sessionExpiresAt, DateTimeOffset now, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var minted = Mint(userId, role, sessionId, sessionExpiresAt, now);
        await connection.ExecuteAsync(new CommandDefinition(InsertSql, minted, transaction, cancellationToken: ct));
        return (minted.Pair, minted.TokenId);
    }

    /// <summary>A minted pair and the row that stores its refresh token (only the token's hash is stored).</summary>
    internal sealed record Minted(TokenPair Pair, Guid TokenId, Guid SessionId, byte[] TokenHash, DateTimeOffset Now, DateTimeOffset ExpiresAt);
}
