using System.Net;
using System.Text.Json;
using Analytics.Api.Tests.Infrastructure;
using static Analytics.Api.Tests.Features.Analytics.AnalyticsScenario;

namespace Analytics.Api.Tests.Features.Analytics;

public sealed class UsageTests(TestDatabase database) : IAsyncDisposable
{
    private readonly ApiFactory _api = new(database);

    public ValueTask DisposeAsync() => _api.DisposeAsync();

    private static List<long> Counts(JsonElement days) => [.. days.EnumerateArray().Select(d => d.GetProperty("events").GetInt64())];

    [Fact]
    public async Task Daily_usage_counts_the_callers_keys_by_event_day_with_zero_days_and_a_per_key_breakdown()
    {
        var client = _api.CreateClient();
        var owner = await client.SignUpAsync(database);
        var other = await client.SignUpAsync(database);
        var web = await client.CreateKeyAsync(owner, "web");
        var mobile = await client.CreateKeyAsync(owner, "mobile");
        var stranger = await client.CreateKeyAsync(other, "stranger");
        var d0 = PastDay(230);
        await client.SendEventsAsync(web.Key, PageView(d0.AddHours(1)), PageView(d0.AddHours(2)), PageView(d0.AddHours(23)), PageView(d0.AddDays(2)));
        await client.SendEventsAsync(mobile.Key, PageView(d0.AddDays(2).AddHours(5)), FeatureClick("x", d0.AddDays(2).AddHours(6)));

        // Another owner's key, the owner's own signed-in events, and events outside [d0, d0 + 4 days) do not count.
        await client.SendEventsAsync(stranger.Key, PageView(d0.AddHours(1)));
        await client.SendEventsAsync(owner.AccessToken, PageView(d0.AddHours(1)));
        await client.SendEventsAsync(web.Key, PageView(d0.AddSeconds(-1)), PageView(d0.AddDays(4)));
        var range = $"from={Iso(d0)}&to={Iso(d0.AddDays(4))}";

        var total = await client.GetOkAsync($"/api/v1/usage/daily?{range}", owner.AccessToken);
        var perKey = await client.GetOkAsync($"/api/v1/usage/daily?{range}&perKey=true", owner.AccessToken);

        total.GetProperty("total").GetInt64().ShouldBe(6);
        total.GetProperty("days").Points("date", "events").ShouldBe([(Day(d0), 3), (Day(d0.AddDays(1)), 0), (Day(d0.AddDays(2)), 3), (Day(d0.AddDays(3)), 0)]);
        total.GetProperty("keys").ValueKind.ShouldBe(JsonValueKind.Null);
        total.GetProperty("from").GetDateTimeOffset().ShouldBe(d0);
        total.GetProperty("to").GetDateTimeOffset().ShouldBe(d0.AddDays(4));
        var keys = perKey.GetProperty("keys");
        keys.GetArrayLength().ShouldBe(2);
        keys[0].GetProperty("id").GetGuid().ShouldBe(web.Id);
        keys[0].GetProperty("name").GetString().ShouldBe("web");
        keys[0].GetProperty("prefix").GetString().ShouldBe(web.Prefix);
        keys[0].GetProperty("events").GetInt64().ShouldBe(4);
        Counts(keys[0].GetProperty("days")).ShouldBe([3L, 0, 1, 0]);
        keys[1].GetProperty("id").GetGuid().ShouldBe(mobile.Id);
        Counts(keys[1].GetProperty("days")).ShouldBe([0L, 0, 2, 0]);
        (await client.GetOkAsync($"/api/v1/usage/daily?{range}", other.AccessToken)).GetProperty("total").GetInt64().ShouldBe(1);
    }

    [Fact]
    public async Task An_empty_period_has_no_days()
    {
        var client = _api.CreateClient();
        var owner = await client.SignUpAsync(database);

        var body = await client.GetOkAsync("/api/v1/usage/daily?from=2026-03-01T00:00:00Z&to=2026-03-01T00:00:00Z", owner.AccessToken);

        body.GetProperty("days").GetArrayLength().ShouldBe(0);
        body.GetProperty("total").GetInt64().ShouldBe(0);
    }

    [Fact]
    public async Task Daily_usage_defaults_to_the_last_7_days_including_today()
    {
        var client = _api.CreateClient();
        var owner = await client.SignUpAsync(database);
        var key = await client.CreateKeyAsync(owner, "app");
        var now = DateTimeOffset.UtcNow;
        await client.SendEventsAsync(key.Key, PageView(now), PageView(now.AddDays(-8)));

        var body = await client.GetOkAsync("/api/v1/usage/daily", owner.AccessToken);

        var days = body.GetProperty("days").Points("date", "events");
        days.Count.ShouldBe(7);
        var today = DateTime.UtcNow.Date;
        days[^1].Label.ShouldBe(Day(new DateTimeOffset(today, TimeSpan.Zero)));
        days[0].Label.ShouldBe(Day(new DateTimeOffset(today.AddDays(-6), TimeSpan.Zero)));
        body.GetProperty("to").GetDateTimeOffset().ShouldBe(new DateTimeOffset(today.AddDays(1), TimeSpan.Zero));
        days.Single(d => d.Label == Day(now)).Count.ShouldBe(1);
        body.GetProperty("total").GetInt64().ShouldBe(1);
    }

    [Fact]
    public async Task Daily_usage_is_cached_yet_an_accepted_event_shows_in_the_very_next_answer()
    {
        var client = _api.CreateClient();
        var owner = await client.SignUpAsync(database);
        var key = await client.CreateKeyAsync(owner, "app");
        var d0 = PastDay(240);
        var query = $"/api/v1/usage/daily?from={Iso(d0)}&to={Iso(d0.AddDays(1))}";
        await client.SendEventsAsync(key.Key, PageView(d0.AddHours(1)));
        (await client.GetOkAsync(query, owner.AccessToken)).GetProperty("total").GetInt64().ShouldBe(1);

        // Written behind the service's back, so only a fresh query (not the cached answer) would count it.
        await database.ExecuteAsync(
            "insert into events (id, occurred_at, received_at, type, api_key_id) values (@Id, @At, now(), 'page_view', @KeyId)",
            new { Id = Guid.NewGuid(), At = d0.AddHours(2), KeyId = key.Id });
        (await client.GetOkAsync(query, owner.AccessToken)).GetProperty("total").GetInt64().ShouldBe(1);

        await client.SendEventsAsync(key.Key, PageView(d0.AddHours(3)));
        (await client.GetOkAsync(query, owner.AccessToken)).GetProperty("total").GetInt64().ShouldBe(3);
    }

    [Fact]
    public async Task Top_clients_ranks_keys_by_events_in_the_last_24_hours_for_admins_only()
    {
        var (api, connectionString) = await FreshServiceAsync(database);
        await using var _ = api;
        var client = api.CreateClient();
        var alice = await client.SignUpAsync(connectionString);
        var bob = await client.SignUpAsync(connectionString);
        var admin = await client.SignUpAdminAsync(connectionString);
        var alpha = await client.CreateKeyAsync(alice, "alpha");
        var beta = await client.CreateKeyAsync(alice, "beta");
        var gamma = await client.CreateKeyAsync(bob, "gamma");
        var now = DateTimeOffset.UtcNow;
        await client.SendEventsAsync(alpha.Key, [.. Enumerable.Range(0, 5).Select(i => PageView(now.AddMinutes(-i)))]);
        await client.SendEventsAsync(gamma.Key, [.. Enumerable.Range(0, 3).Select(i => PageView(now.AddHours(-i)))]);
        await client.SendEventsAsync(beta.Key, PageView(now.AddHours(-23)));

        // Arrived now but happened two days ago: outside the last 24 hours of event time.
        await client.SendEventsAsync(beta.Key, [.. Enumerable.Range(0, 10).Select(_ => PageView(now.AddDays(-2)))]);
        await client.SendEventsAsync(alice.AccessToken, PageView(now));

        var top = await client.GetOkAsync("/api/v1/usage/top", admin.AccessToken);

        var clients = top.GetProperty("clients");
        clients.Points("keyName", "events").ShouldBe([("alpha", 5), ("gamma", 3), ("beta", 1)]);
        clients[0].GetProperty("keyId").GetGuid().ShouldBe(alpha.Id);
        clients[0].GetProperty("prefix").GetString().ShouldBe(alpha.Prefix);
        alpha.Key.ShouldStartWith(alpha.Prefix + "_");
        clients[0].GetProperty("ownerId").GetGuid().ShouldBe(alice.UserId);
        clients[0].GetProperty("ownerEmail").GetString().ShouldBe(alice.Email);
        clients[1].GetProperty("ownerEmail").GetString().ShouldBe(bob.Email);
        (top.GetProperty("to").GetDateTimeOffset() - top.GetProperty("from").GetDateTimeOffset()).ShouldBe(TimeSpan.FromHours(24));
        (await client.GetOkAsync("/api/v1/usage/top?limit=2", admin.AccessToken)).GetProperty("clients").Points("keyName", "events").ShouldBe([("alpha", 5), ("gamma", 3)]);
        (await client.GetOkAsync($"/api/v1/usage/top?from={Iso(now.AddDays(-3))}&to={Iso(now.AddHours(1))}", admin.AccessToken))
            .GetProperty("clients").Points("keyName", "events").ShouldBe([("beta", 11), ("alpha", 5), ("gamma", 3)]);

        await client.SendEventsAsync(beta.Key, PageView(now), PageView(now), PageView(now));
        (await client.GetOkAsync("/api/v1/usage/top", admin.AccessToken)).GetProperty("clients").Points("keyName", "events").ShouldBe([("alpha", 5), ("beta", 4), ("gamma", 3)]);

        await (await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/usage/top", alice.AccessToken))).ShouldBeProblemAsync(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task Bad_periods_and_limits_are_400_and_without_a_token_it_is_401()
    {
        var client = _api.CreateClient();
        var admin = await client.SignUpAdminAsync(database);
        var now = DateTimeOffset.UtcNow;

        var reversed = await client.SendAsync(HttpMethod.Get.Authorized($"/api/v1/usage/daily?from={Iso(now)}&to={Iso(now.AddDays(-1))}", admin.AccessToken));
        var tooLong = await client.SendAsync(HttpMethod.Get.Authorized($"/api/v1/usage/top?from={Iso(now.AddDays(-400))}", admin.AccessToken));
        var badLimit = await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/usage/top?limit=0", admin.AccessToken));

        (await reversed.ShouldBeProblemAsync(HttpStatusCode.BadRequest)).GetProperty("errors").GetProperty("from")[0].GetString()!.ShouldContain("after to");
        (await tooLong.ShouldBeProblemAsync(HttpStatusCode.BadRequest)).GetProperty("errors").GetProperty("to")[0].GetString()!.ShouldContain("366 days");
        (await badLimit.ShouldBeProblemAsync(HttpStatusCode.BadRequest)).GetProperty("errors").GetProperty("limit")[0].GetString()!.ShouldContain("between 1 and 100");
        await (await client.GetAsync(new Uri("/api/v1/usage/daily", UriKind.Relative))).ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
        await (await client.GetAsync(new Uri("/api/v1/usage/top", UriKind.Relative))).ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
    }
}
