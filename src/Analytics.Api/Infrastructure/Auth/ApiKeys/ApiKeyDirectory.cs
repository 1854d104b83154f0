using System.Collections.Concurrent;
using Dapper;
using Microsoft.Extensions.Caching.Memory;
using Npgsql;

namespace Analytics.Api.Infrastructure.Auth.ApiKeys;

/// <summary>A stored key as authentication needs it.</summary>
public sealed record ApiKeyRecord(Guid Id, Guid OwnerId, byte[] SecretHash, bool Revoked);

/// <summary>
/// Key lookups for every ingestion request. Each node caches a key for at most <see cref="CacheFor"/>, so a
/// revoked key (or the key of a disabled account) stops working within that time everywhere without any cross-node
/// message. "Last used" is written at most once a minute per key and node.
/// </summary>
public sealed class ApiKeyDirectory(NpgsqlDataSource db, TimeProvider clock) : IDisposable
{
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan TouchEvery = TimeSpan.FromMinutes(1);

    // A key works while it is not revoked and its owner's account is active (not disabled).
    private const string KeysSql = "from api_keys k join users u on u.id = k.user_id";

    private const string WorksSql = "k.revoked_at is null and u.status = 'active'";

    private const string FindSql = $"select k.id as Id, k.user_id as OwnerId, k.secret_hash as SecretHash, not ({WorksSql}) as Revoked {KeysSql} where k.public_id = @PublicId";

    private const string LiveSql = $"select {WorksSql} {KeysSql} where k.id = @Id";

    private const string TouchSql = """
        update api_keys set last_used_at = @Now
        where id = @Id and (last_used_at is null or last_used_at < @Now - interval '1 minute')
        """;

    private readonly MemoryCache _cache = new(new MemoryCacheOptions { SizeLimit = 100_000 });
    private readonly ConcurrentDictionary<Guid, long> _touched = new();

    /// <summary>The key with this public id, from this node's copy when it has one (no allocation then).</summary>
    public ValueTask<ApiKeyRecord?> FindAsync(string publicId, CancellationToken ct) =>
        _cache.TryGetValue(publicId, out ApiKeyRecord? cached) ? ValueTask.FromResult(cached) : new(LoadAsync(publicId, ct));

    private async Task<ApiKeyRecord?> LoadAsync(string publicId, CancellationToken ct)
    {
        ApiKeyRecord? record;
        await using (var connection = await db.OpenConnectionAsync(ct))
        {
            record = await connection.QuerySingleOrDefaultAsync<ApiKeyRecord>(new CommandDefinition(FindSql, new { PublicId = publicId }, cancellationToken: ct));
        }

        // Unknown ids are cached too, so a flood of made-up keys does not reach the database each time.
        _cache.Set(publicId, record, new MemoryCacheEntryOptions { AbsoluteExpirationRelativeToNow = CacheFor, Size = 1 });
        return record;
    }

    /// <summary>
    /// Whether the key still works (not revoked, its owner active), as this node saw it at most <see cref="CacheFor"/>
    /// ago: for open live streams, which authenticated once.
    /// </summary>
    public async Task<bool> IsLiveAsync(Guid keyId, CancellationToken ct)
    {
        if (_cache.TryGetValue(keyId, out bool live))
        {
            return live;
        }

        await using (var connection = await db.OpenConnectionAsync(ct))
        {
            live = await connection.ExecuteScalarAsync<bool?>(new CommandDefinition(LiveSql, new { Id = keyId }, cancellationToken: ct)) ?? false;
        }

        _cache.Set(keyId, live, new MemoryCacheEntryOptions { AbsoluteExpirationRelativeToNow = CacheFor, Size = 1 });
        return live;
    }

    public async Task TouchAsync(Guid keyId, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var last = _touched.GetValueOrDefault(keyId);
        if (now.UtcTicks - last < TouchEvery.Ticks || !_touched.TryUpdate(keyId, now.UtcTicks, last) && !_touched.TryAdd(keyId, now.UtcTicks))
        {
            return;
        }

        await using var connection = await db.OpenConnectionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(TouchSql, new { Id = keyId, Now = now }, cancellationToken: ct));
    }

    public void Dispose() => _cache.Dispose();
}
