using System.Text.Json;
using Analytics.Api.Infrastructure.Caching;
using Dapper;
using Npgsql;

namespace Analytics.Api.Infrastructure.Auth;

/// <summary>
/// Checked on every authenticated request: the token's session is still live, its user still active and still
/// in the role the token claims. The answer is cached briefly; every change that ends or downgrades a session
/// forgets it, so revocation, disabling and role changes take effect on the next request on every node.
/// </summary>
public sealed class SessionGate(NpgsqlDataSource db, ICache cache, TimeProvider clock)
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(60);

    private const string StateSql = """
        select s.user_id as UserId, u.role as Role,
               (s.revoked_at is null and s.expires_at > @Now and u.status = 'active') as Live
        from sessions s join users u on u.id = s.user_id
        where s.id = @SessionId
        """;

    private const string UserSessionsSql = "select id from sessions where user_id = @UserId and revoked_at is null";

    public async Task<string?> WhyRejectedAsync(CurrentUser user, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(user);
        var key = Key(user.SessionId);
        SessionState? state = null;
        if (await cache.GetAsync(key, ct) is { } cached)
        {
            state = JsonSerializer.Deserialize<SessionState>(cached);
        }

        if (state is null)
        {
            await using var connection = await db.OpenConnectionAsync(ct);
            state = await connection.QuerySingleOrDefaultAsync<SessionState>(new CommandDefinition(StateSql, new { user.SessionId, Now = clock.GetUtcNow() }, cancellationToken: ct))
                ?? new SessionState(Guid.Empty, "", false);
            await cache.SetAsync(key, JsonSerializer.SerializeToUtf8Bytes(state), Ttl, ct);
        }

        return state switch
        {
            { Live: false } => "The session has ended (signed out, revoked, expired, or the account is no longer active).",
            _ when state.UserId != user.Id => "The token does not belong to this session.",
            _ when state.Role != user.Role => "The account's role changed; refresh the token.",
            _ => null,
        };
    }

    public Task ForgetAsync(Guid sessionId, CancellationToken ct) => cache.RemoveAsync(Key(sessionId), ct);

    /// <summary>Forgets every live session of <paramref name="userId"/> (after a status or role change).</summary>
    public async Task ForgetUserAsync(Guid userId, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        foreach (var id in await connection.QueryAsync<Guid>(new CommandDefinition(UserSessionsSql, new { UserId = userId }, cancellationToken: ct)))
        {
            await ForgetAsync(id, ct);
        }
    }

    private static string Key(Guid sessionId) => $"auth:session:{sessionId:N}";

    private sealed record SessionState(Guid UserId, string Role, bool Live);
}
