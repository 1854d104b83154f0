using System.Text.Json;
using Analytics.Api.Infrastructure.Caching;
using Dapper;
using Npgsql;

namespace Analytics.Api.Infrastructure.Auth;

/// <summary>
/// Checked on every authenticated request: the token's session is still live, its user still active and still
/// in the role the token claims. The answer is cached briefly and shared by all nodes. A change that ends or
/// downgrades a session re-checks it after its commit and overwrites the cached answer; readers only fill an
/// empty entry, so a read that raced the change cannot put the stale answer back.
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
            state = await ReadAsync(user.SessionId, ct);
            await cache.AddAsync(key, JsonSerializer.SerializeToUtf8Bytes(state), Ttl, ct);
        }

        return state switch
        {
            { Live: false } => "The session has ended (signed out, revoked, expired, or the account is no longer active).",
            _ when state.UserId != user.Id => "The token does not belong to this session.",
            _ when state.Role != user.Role => "The account's role changed; refresh the token.",
            _ => null,
        };
    }

    /// <summary>After a commit that changed <paramref name="sessionId"/>: caches its current state for every node.</summary>
    public async Task RecheckAsync(Guid sessionId, CancellationToken ct) =>
        await cache.SetAsync(Key(sessionId), JsonSerializer.SerializeToUtf8Bytes(await ReadAsync(sessionId, ct)), Ttl, ct);

    /// <summary>After a commit that changed the user (status, role): re-checks every session of theirs.</summary>
    public async Task RecheckUserAsync(Guid userId, CancellationToken ct)
    {
        List<Guid> sessions;
        await using (var connection = await db.OpenConnectionAsync(ct))
        {
            sessions = [.. await connection.QueryAsync<Guid>(new CommandDefinition(UserSessionsSql, new { UserId = userId }, cancellationToken: ct))];
        }

        foreach (var id in sessions)
        {
            await RecheckAsync(id, ct);
        }
    }

    private async Task<SessionState> ReadAsync(Guid sessionId, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<SessionState>(new CommandDefinition(StateSql, new { SessionId = sessionId, Now = clock.GetUtcNow() }, cancellationToken: ct))
            ?? new SessionState(Guid.Empty, "", false);
    }

    private static string Key(Guid sessionId) => $"auth:session:{sessionId:N}";

    private sealed record SessionState(Guid UserId, string Role, bool Live);
}
