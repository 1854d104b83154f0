using System.Text.Json;
using Analytics.Api.Infrastructure.Caching;
using Analytics.Api.Infrastructure.Database;
using Dapper;
using Npgsql;

namespace Analytics.Api.Infrastructure.Activity;

/// <summary>One activity-log entry as readers see it; <paramref name="Details"/> is the stored JSON text.</summary>
public sealed record ActivityRecord(long Id, string Kind, DateTimeOffset OccurredAt, string? Ip, string? UserAgent, string Details);

/// <summary>
/// The newest <see cref="Size"/> entries of each user, cached (in Redis when configured) and rebuilt from
/// PostgreSQL on a miss. Every slice that writes a user's activity forgets that user's entry after its commit: it
/// leaves a short-lived empty marker in its place rather than deleting it, and a reader only adds its page where
/// nothing is, so a reader that read the entries just before the commit cannot put them back after it.
/// </summary>
public sealed class RecentActivity(NpgsqlDataSource db, ICache cache)
{
    public const int Size = 50;

    private static readonly TimeSpan Ttl = TimeSpan.FromMinutes(10);

    /// <summary>How long a forgotten entry stays uncached: longer than any read of a page takes.</summary>
    private static readonly TimeSpan Forgotten = TimeSpan.FromSeconds(10);

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private const string PageSql = """
        select id as Id, kind as Kind, occurred_at as OccurredAt, host(ip) as Ip, user_agent as UserAgent, details::text as Details
        from activity_log
        where user_id = @UserId and (@Before is null or id < @Before)
        order by id desc
        limit @Take
        """;

    public async Task<IReadOnlyList<ActivityRecord>> NewestAsync(Guid userId, CancellationToken ct)
    {
        if (await cache.GetAsync(Key(userId), ct) is { Length: > 0 } cached)
        {
            return JsonSerializer.Deserialize<List<ActivityRecord>>(cached, Json)!;
        }

        var page = await PageAsync(userId, null, Size, ct);
        await FillAsync(userId, page);
        return page;
    }

    /// <summary>Caches the newest page a reader read, unless the entry was forgotten (or filled) since.</summary>
    internal Task<bool> FillAsync(Guid userId, IReadOnlyList<ActivityRecord> newest) =>
        cache.AddAsync(Key(userId), JsonSerializer.SerializeToUtf8Bytes(newest, Json), Ttl, CancellationToken.None);

    /// <summary>Entries older than <paramref name="before"/> (or the newest), straight from PostgreSQL.</summary>
    public async Task<IReadOnlyList<ActivityRecord>> PageAsync(Guid userId, long? before, int take, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        var rows = await connection.QueryAsync<Row>(new CommandDefinition(PageSql, new { UserId = userId, Before = before, Take = take }, cancellationToken: ct));
        return [.. rows.Select(r => new ActivityRecord(r.Id, r.Kind, r.OccurredAt.AsUtc(), r.Ip, r.UserAgent, r.Details))];
    }

    public Task ForgetAsync(Guid userId, CancellationToken ct) => cache.SetAsync(Key(userId), [], Forgotten, ct);

    // v2: an empty entry is a marker (nodes of the previous version would fail to read it as a page).
    private static string Key(Guid userId) => $"activity:v2:{userId:N}";

    private sealed record Row(long Id, string Kind, DateTime OccurredAt, string? Ip, string? UserAgent, string Details);
}
