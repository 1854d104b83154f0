using System.Text.Json;
using Analytics.Api.Infrastructure.Caching;
using Analytics.Api.Infrastructure.Messaging;
using Dapper;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Analytics.Api.Infrastructure.Auth;

/// <summary>
/// Checked on every authenticated request: the token's session is still live, its user still active and still
/// in the role the token claims. The answer is cached briefly and shared by all nodes. A change that ends or
/// downgrades a session re-checks it after its commit and overwrites the cached answer; readers only fill an
/// empty entry, so a read that raced the change cannot put the stale answer back.
/// Each node also keeps its own copy of an answer for <see cref="JwtOptions.SessionCheckLocalFor"/>, so a client
/// calling many times a second costs no Redis round trip per request. A re-check tells every node on the event bus
/// to drop its copies of the sessions it changed; a copy read before a re-check is never kept. Only when that
/// message is lost (Redis unreachable) can another node accept a just-ended session, for at most that long.
/// </summary>
public sealed class SessionGate : IDisposable
{
    public const string ChangedTopic = "auth.sessions-changed";

    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(60);
    private static readonly SessionState Ended = new(Guid.Empty, "", false);

    /// <summary>What a live session is, over <c>sessions s join users u</c> at <c>@Now</c>: for a check made inside a transaction.</summary>
    public const string LiveSql = "s.revoked_at is null and s.expires_at > @Now and u.status = 'active'";

    private const string StateColumns = $"""
        select s.id as SessionId, s.user_id as UserId, u.role as Role,
               ({LiveSql}) as Live
        from sessions s join users u on u.id = s.user_id
        """;

    private const string StatesSql = StateColumns + " where s.id = any(@SessionIds)";

    private const string UserStatesSql = StateColumns + " where s.user_id = @UserId and s.revoked_at is null";

    private readonly NpgsqlDataSource _db;
    private readonly ICache _cache;
    private readonly IEventBus _bus;
    private readonly TimeProvider _clock;
    private readonly TimeSpan _localFor;
    private readonly MemoryCache _copies = new(new MemoryCacheOptions { SizeLimit = 100_000 });
    private readonly IDisposable _subscription;

    // Counts re-checks seen by this node (its own and other nodes'): a read that overlapped one keeps no copy.
    private long _changes;

    public SessionGate(NpgsqlDataSource db, ICache cache, IEventBus bus, IOptions<JwtOptions> options, TimeProvider clock)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(bus);
        (_db, _cache, _bus, _clock, _localFor) = (db, cache, bus, clock, options.Value.SessionCheckLocalFor);
        _subscription = bus.Subscribe<Guid[]>(ChangedTopic, sessionIds =>
        {
            Forget(sessionIds);
            return Task.CompletedTask;
        });
    }

    public async Task<string?> WhyRejectedAsync(CurrentUser user, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(user);
        var state = await StateAsync(user.SessionId, ct);
        return state switch
        {
            { Live: false } => "The session has ended (signed out, revoked, expired, or the account is no longer active).",
            _ when state.UserId != user.Id => "The token does not belong to this session.",
            _ when state.Role != user.Role => "The account's role changed; refresh the token.",
            _ => null,
        };
    }

    /// <summary>After a commit that changed these sessions: caches their current state for every node.</summary>
    public async Task RecheckAsync(IReadOnlyCollection<Guid> sessionIds, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(sessionIds);
        if (sessionIds.Count > 0)
        {
            var states = await ReadAsync(StatesSql, new { SessionIds = sessionIds.ToArray(), Now = _clock.GetUtcNow() }, ct);
            await PublishAsync([.. sessionIds.Select(id => (id, states.GetValueOrDefault(id, Ended)))], ct);
        }
    }

    /// <summary>After a commit that changed the user (status, role): re-checks every session of theirs.</summary>
    public async Task RecheckUserAsync(Guid userId, CancellationToken ct)
    {
        var states = await ReadAsync(UserStatesSql, new { UserId = userId, Now = _clock.GetUtcNow() }, ct);
        await PublishAsync([.. states.Select(s => (s.Key, s.Value))], ct);
    }

    public void Dispose()
    {
        _subscription.Dispose();
        _copies.Dispose();
    }

    private async Task<SessionState> StateAsync(Guid sessionId, CancellationToken ct)
    {
        if (_copies.TryGetValue(sessionId, out LocalCopy? copy) && copy is not null && _clock.GetUtcNow() < copy.Until)
        {
            return copy.State;
        }

        var changes = Interlocked.Read(ref _changes);
        var key = Key(sessionId);
        var state = await _cache.GetAsync(key, ct) is { } cached ? JsonSerializer.Deserialize<SessionState>(cached) : null;
        if (state is null)
        {
            var read = await ReadAsync(StatesSql, new { SessionIds = new[] { sessionId }, Now = _clock.GetUtcNow() }, ct);
            state = read.GetValueOrDefault(sessionId, Ended);
            await _cache.AddAsync(key, JsonSerializer.SerializeToUtf8Bytes(state), Ttl, ct);
        }

        if (_localFor > TimeSpan.Zero && Interlocked.Read(ref _changes) == changes)
        {
            _copies.Set(sessionId, new LocalCopy(state, _clock.GetUtcNow() + _localFor), new MemoryCacheEntryOptions { AbsoluteExpirationRelativeToNow = _localFor, Size = 1 });
        }

        return state;
    }

    // Shared entry first, then this node's copies, then the other nodes' (the message comes after the new answer).
    private async Task PublishAsync(IReadOnlyList<(Guid Id, SessionState State)> changed, CancellationToken ct)
    {
        foreach (var (id, state) in changed)
        {
            await _cache.SetAsync(Key(id), JsonSerializer.SerializeToUtf8Bytes(state), Ttl, ct);
        }

        Guid[] ids = [.. changed.Select(c => c.Id)];
        Forget(ids);
        if (ids.Length > 0)
        {
            await _bus.PublishAsync(ChangedTopic, ids, ct);
        }
    }

    private void Forget(IEnumerable<Guid> sessionIds)
    {
        Interlocked.Increment(ref _changes);
        foreach (var id in sessionIds)
        {
            _copies.Remove(id);
        }
    }

    private async Task<Dictionary<Guid, SessionState>> ReadAsync(string sql, object parameters, CancellationToken ct)
    {
        await using var connection = await _db.OpenConnectionAsync(ct);
        var rows = await connection.QueryAsync<StateRow>(new CommandDefinition(sql, parameters, cancellationToken: ct));
        return rows.ToDictionary(r => r.SessionId, r => new SessionState(r.UserId, r.Role, r.Live));
    }

    private static string Key(Guid sessionId) => $"auth:session:{sessionId:N}";

    private sealed record SessionState(Guid UserId, string Role, bool Live);

    private sealed record StateRow(Guid SessionId, Guid UserId, string Role, bool Live);

    private sealed record LocalCopy(SessionState State, DateTimeOffset Until);
}
