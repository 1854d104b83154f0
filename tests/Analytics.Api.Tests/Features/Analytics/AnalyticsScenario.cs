using System.Net;
using System.Text.Json;
using Analytics.Api.Tests.Infrastructure;

namespace Analytics.Api.Tests.Features.Analytics;

/// <summary>Builds analytics data sets through the real ingestion endpoint and reads the answers.</summary>
internal static class AnalyticsScenario
{
    /// <summary>A UTC midnight far enough back that no other test sends events near it, within ingestion's one-year window.</summary>
    public static DateTimeOffset PastDay(int daysAgo = 200) => new(DateTime.UtcNow.Date.AddDays(-daysAgo), TimeSpan.Zero);

    /// <summary>A service on a database of its own (with an in-process cache), for assertions over every user's data.</summary>
    public static async Task<(ApiFactory Api, string ConnectionString)> FreshServiceAsync(TestDatabase database)
    {
        var connectionString = await database.CreateDatabaseAsync("analytics");
        return (new ApiFactory(database, new Dictionary<string, string?> { ["ConnectionStrings:Postgres"] = connectionString, ["Redis:ConnectionString"] = "" }), connectionString);
    }

    public static object FeatureClick(string feature, DateTimeOffset at) => new { type = "feature_click", name = feature, occurredAt = at };

    public static object PageView(DateTimeOffset at) => new { type = "page_view", occurredAt = at };

    /// <summary>Sends <paramref name="events"/> in one batch with a JWT or an API key; every one must be accepted.</summary>
    public static async Task SendEventsAsync(this HttpClient client, string credential, params object[] events)
    {
        var response = await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events/batch", credential, new { events }));
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        (await response.JsonAsync()).GetProperty("accepted").GetInt32().ShouldBe(events.Length);
    }

    public static async Task<ApiKey> CreateKeyAsync(this HttpClient client, SignedIn owner, string name)
    {
        var response = await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/api-keys", owner.AccessToken, new { name }));
        response.StatusCode.ShouldBe(HttpStatusCode.Created);
        var body = await response.JsonAsync();
        return new ApiKey(body.GetProperty("id").GetGuid(), name, body.GetProperty("key").GetString()!, body.GetProperty("prefix").GetString()!);
    }

    public static async Task<JsonElement> GetOkAsync(this HttpClient client, string path, string accessToken)
    {
        var response = await client.SendAsync(HttpMethod.Get.Authorized(path, accessToken));
        response.StatusCode.ShouldBe(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return await response.JsonAsync();
    }

    public static string Iso(DateTimeOffset at) => Uri.EscapeDataString(at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture));

    public static string Day(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A chart as (label, count) pairs, in the order answered.</summary>
    public static List<(string Label, long Count)> Points(this JsonElement chart, string label, string count) =>
        [.. chart.EnumerateArray().Select(p => (p.GetProperty(label).GetString()!, p.GetProperty(count).GetInt64()))];
}

internal sealed record ApiKey(Guid Id, string Name, string Key, string Prefix);
