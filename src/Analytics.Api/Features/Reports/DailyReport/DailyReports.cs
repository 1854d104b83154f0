using System.Text.Json;
using Analytics.Api.Infrastructure.Caching;
using Dapper;
using Npgsql;
using static Analytics.Api.Features.Reports.DailyReport.DailyReport;

namespace Analytics.Api.Features.Reports.DailyReport;

/// <summary>
/// Builds, stores and caches daily reports from the rollups, inside the rollups' transaction (see
/// <see cref="Rollups.Rollups.RunAsync(IReadOnlyCollection{DateOnly}, CancellationToken)"/>).
/// </summary>
public sealed class DailyReports(ICache cache, TimeProvider clock)
{
    // Rebuilds replace the cached copy; an hour bounds how long one missed while Redis was unreachable can stay.
    private static readonly TimeSpan CacheFor = TimeSpan.FromHours(1);

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private const string CountsSql = """
        select coalesce(sum(value) filter (where metric = 'logins'), 0)::bigint as Logins,
               coalesce(sum(value) filter (where metric = 'failed_logins'), 0)::bigint as FailedLogins,
               coalesce(sum(value) filter (where metric = 'registrations'), 0)::bigint as Registrations,
               (select count(*) from rollup_active_users where day = @Day) as ActiveUsers
        from rollup_hourly where bucket >= @Start and bucket < @End
        """;

    private const string EventsByTypeSql = """
        select dimension as Type, sum(value)::bigint as Count from rollup_hourly
        where bucket >= @Start and bucket < @End and metric = 'events'
        group by dimension order by dimension
        """;

    private const string TopFeaturesSql = """
        select dimension as Feature, sum(value)::bigint as Clicks from rollup_hourly
        where bucket >= @Start and bucket < @End and metric = 'feature_clicks'
        group by dimension order by sum(value) desc, dimension limit 10
        """;

    // A rebuild whose numbers are those stored leaves the row (and its generatedAt) alone, unless it was asked for:
    // late events are read again by every rollup run within the watermark's overlap.
    private const string SaveSql = """
        insert into daily_reports (day, report, generated_at) values (@Day, @Report::jsonb, @Now)
        on conflict (day) do update set report = excluded.report, generated_at = excluded.generated_at
        where @Always or daily_reports.report - 'generatedAt' is distinct from excluded.report - 'generatedAt'
        """;

    private const string StoredSql = "select day from daily_reports where day = any(@Days) order by day";

    /// <summary>Of <paramref name="days"/>, those that have a stored report.</summary>
    public static async Task<IReadOnlyList<DateOnly>> StoredAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyCollection<DateOnly> days, CancellationToken ct) =>
        days.Count == 0
            ? []
            : [.. (await connection.QueryAsync<DateTime>(Rollups.Rollups.Step(StoredSql, new { Days = days.ToArray() }, transaction, ct))).Select(DateOnly.FromDateTime)];

    /// <summary>
    /// Builds each day's report from the rollups and stores it, replacing the stored one: always for
    /// <paramref name="asked"/>, for <paramref name="rebuilt"/> only when its numbers changed. Returns those stored.
    /// </summary>
    public async Task<IReadOnlyList<Report>> BuildAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyCollection<DateOnly> asked, IEnumerable<DateOnly> rebuilt, CancellationToken ct)
    {
        var reports = new List<Report>();
        foreach (var day in asked.Union(rebuilt).Order())
        {
            var range = new { Day = day, Start = new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero), End = new DateTimeOffset(day.AddDays(1).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero) };
            var counts = await connection.QuerySingleAsync<CountsRow>(Rollups.Rollups.Step(CountsSql, range, transaction, ct));
            var byType = (await connection.QueryAsync<(string Type, long Count)>(Rollups.Rollups.Step(EventsByTypeSql, range, transaction, ct))).ToDictionary(r => r.Type, r => r.Count);
            var top = (await connection.QueryAsync<FeatureCount>(Rollups.Rollups.Step(TopFeaturesSql, range, transaction, ct))).ToList();
            var report = new Report(day, counts.Logins, counts.FailedLogins, counts.Registrations, counts.ActiveUsers, byType, top, clock.GetUtcNow());
            if (await connection.ExecuteAsync(Rollups.Rollups.Step(SaveSql, new { Day = day, Report = JsonSerializer.Serialize(report, Json), Now = report.GeneratedAt, Always = asked.Contains(day) }, transaction, ct)) > 0)
            {
                reports.Add(report);
            }
        }

        return reports;
    }

    /// <summary>Puts reports just stored in the cache (after their transaction committed), replacing older copies.</summary>
    public async Task CacheAsync(IEnumerable<Report> reports)
    {
        foreach (var report in reports)
        {
            await cache.SetAsync(Key(report.Day), JsonSerializer.SerializeToUtf8Bytes(report, Json), CacheFor, CancellationToken.None);
        }
    }

    /// <summary>
    /// Caches a report read from the database unless a copy is there already: a rebuild that committed after the
    /// read has cached a newer one, which this one must not replace.
    /// </summary>
    public Task CacheReadAsync(Report report) =>
        cache.AddAsync(Key(report.Day), JsonSerializer.SerializeToUtf8Bytes(report, Json), CacheFor, CancellationToken.None);

    public async Task<Report?> CachedAsync(DateOnly day, CancellationToken ct) =>
        await cache.GetAsync(Key(day), ct) is { } cached ? JsonSerializer.Deserialize<Report>(cached, Json) : null;

    public static Report Read(string json) => JsonSerializer.Deserialize<Report>(json, Json)!;

    private static string Key(DateOnly day) => $"report:daily:{day:yyyy-MM-dd}";

    private sealed record CountsRow(long Logins, long FailedLogins, long Registrations, long ActiveUsers);
}
