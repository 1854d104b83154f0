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
    private const string InsertSql = """
        insert into refresh_tokens (id, session_id, token_hash, created_at, expires_at)
        values (@Id, @SessionId, @TokenHash, @Now, @ExpiresAt)
        """;

    public TimeSpan RefreshLifetime => jwt.Value.RefreshTokenLifetime;

    public async Task<(TokenPair Pair, Guid RefreshTokenId)> IssueAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid userId, string role, Guid sessionId, DateTimeOffset sessionExpiresAt, DateTimeOffset now, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var refresh = OpaqueTokens.New();
        var id = Guid.CreateVersion7();
        await connection.ExecuteAsync(new CommandDefinition(InsertSql, new { Id = id, SessionId = sessionId, TokenHash = OpaqueTokens.Hash(refresh), Now = now, ExpiresAt = sessionExpiresAt }, transaction, cancellationToken: ct));
        var access = accessTokens.Issue(userId, role, sessionId);
        return (new TokenPair(access.Token, access.ExpiresAt, refresh, sessionExpiresAt), id);
    }
}
