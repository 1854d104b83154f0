using System.Net;
using Analytics.Api.Tests.Infrastructure;
using static Analytics.Api.Tests.Features.Analytics.AnalyticsScenario;

namespace Analytics.Api.Tests.Features.Analytics;

public sealed class FeatureAnalyticsTests(TestDatabase database) : IAsyncDisposable
{
    private readonly ApiFactory _api = new(database);

    public ValueTask DisposeAsync() => _api.DisposeAsync();

    [Fact]
    public async Task Admin_sees_every_users_clicks_by_feature_day_age_band_and_gender()
    {
        var (api, connectionString) = await FreshServiceAsync(database);
        await using var _ = api;
        var client = api.CreateClient();
        var teen = await client.SignUpAsync(connectionString, profile: new { age = 16, gender = "female" });
        var young = await client.SignUpAsync(connectionString, profile: new { age = 18, gender = "male" });
        var mid = await client.SignUpAsync(connectionString, profile: new { age = 40, gender = "other" });
        var older = await client.SignUpAsync(connectionString, profile: new { age = 41, gender = "female" });
        var anonymous = await client.SignUpAsync(connectionString);
        var admin = await client.SignUpAdminAsync(connectionString);
        var key = await client.CreateKeyAsync(admin, "app");
        var d0 = PastDay();
        DateTimeOffset At(int day, int hour = 10) => d0.AddDays(day).AddHours(hour);

        await client.SendEventsAsync(teen.AccessToken, FeatureClick("export", At(0)), FeatureClick("export", At(0, 23)), FeatureClick("filter", At(3)));
        await client.SendEventsAsync(young.AccessToken, FeatureClick("export", At(0)), FeatureClick("search", At(1)), FeatureClick("search", At(1, 0)));
        await client.SendEventsAsync(mid.AccessToken, FeatureClick("export", At(2)), FeatureClick("search", At(1)), FeatureClick("filter", At(3)));
        await client.SendEventsAsync(older.AccessToken, FeatureClick("export", At(4)), FeatureClick("search", At(3)), FeatureClick("share", At(1)));
        await client.SendEventsAsync(anonymous.AccessToken, FeatureClick("export", At(4)), FeatureClick("search", At(3)), FeatureClick("share", At(1)));
        await client.SendEventsAsync(key.Key, FeatureClick("export", At(2)));

        // Outside [d0, d0 + 5 days), or not a feature click: never counted.
        await client.SendEventsAsync(teen.AccessToken, FeatureClick("export", d0.AddSeconds(-1)), FeatureClick("export", At(5, 0)), PageView(At(1)),
            new { type = "click", name = "export", occurredAt = At(1) });

        var range = $"startDate={Iso(d0)}&endDate={Iso(d0.AddDays(5))}";
        async Task<System.Text.Json.JsonElement> ReadAsync(string filters = "") =>
            await client.GetOkAsync($"/api/v1/analytics/features?{range}{filters}", admin.AccessToken);

        var all = await ReadAsync();
        all.GetProperty("barChart").Points("feature", "clicks").ShouldBe([("export", 7), ("search", 5), ("filter", 2), ("share", 2)]);
        all.GetProperty("lineChart").Points("date", "clicks").ShouldBe([(Day(At(0)), 3), (Day(At(1)), 0), (Day(At(2)), 2), (Day(At(3)), 0), (Day(At(4)), 2)]);
        var summary = all.GetProperty("summary");
        summary.GetProperty("totalClicks").GetInt64().ShouldBe(16);
        summary.GetProperty("uniqueUsers").GetInt64().ShouldBe(5);
        summary.GetProperty("activeFeature").GetString().ShouldBe("export");
        summary.GetProperty("activeFeatureClicks").GetInt64().ShouldBe(7);
        summary.GetProperty("activeFeatureUniqueUsers").GetInt64().ShouldBe(5);
        summary.GetProperty("startDate").GetDateTimeOffset().ShouldBe(d0);
        summary.GetProperty("endDate").GetDateTimeOffset().ShouldBe(d0.AddDays(5));
        summary.GetProperty("allUsers").GetBoolean().ShouldBeTrue();

        var search = await ReadAsync("&feature=search");
        search.GetProperty("lineChart").Points("date", "clicks").Select(p => p.Count).ShouldBe([0L, 3, 0, 2, 0]);
        search.GetProperty("summary").GetProperty("activeFeatureUniqueUsers").GetInt64().ShouldBe(4);
        search.GetProperty("summary").GetProperty("totalClicks").GetInt64().ShouldBe(16);

        var under18 = await ReadAsync($"&age={Uri.EscapeDataString("<18")}");
        under18.GetProperty("barChart").Points("feature", "clicks").ShouldBe([("export", 2), ("filter", 1)]);
        under18.GetProperty("lineChart").Points("date", "clicks").Select(p => p.Count).ShouldBe([2L, 0, 0, 0, 0]);
        under18.GetProperty("summary").GetProperty("uniqueUsers").GetInt64().ShouldBe(1);

        // 18 and 40 are both inside the middle band; the top feature there is search, so it is the line chart's.
        var middle = await ReadAsync("&age=18-40");
        middle.GetProperty("barChart").Points("feature", "clicks").ShouldBe([("search", 3), ("export", 2), ("filter", 1)]);
        middle.GetProperty("summary").GetProperty("activeFeature").GetString().ShouldBe("search");
        middle.GetProperty("lineChart").Points("date", "clicks").Select(p => p.Count).ShouldBe([0L, 3, 0, 0, 0]);
        middle.GetProperty("summary").GetProperty("uniqueUsers").GetInt64().ShouldBe(2);

        (await ReadAsync($"&age={Uri.EscapeDataString(">40")}")).GetProperty("barChart").Points("feature", "clicks").ShouldBe([("export", 1), ("search", 1), ("share", 1)]);
        (await ReadAsync("&gender=female")).GetProperty("barChart").Points("feature", "clicks").ShouldBe([("export", 3), ("filter", 1), ("search", 1), ("share", 1)]);
        (await ReadAsync("&gender=male")).GetProperty("barChart").Points("feature", "clicks").ShouldBe([("search", 2), ("export", 1)]);
        (await ReadAsync("&gender=other")).GetProperty("barChart").Points("feature", "clicks").ShouldBe([("export", 1), ("filter", 1), ("search", 1)]);
        (await ReadAsync("&gender=all&age=all")).GetProperty("summary").GetProperty("totalClicks").GetInt64().ShouldBe(16);
        (await ReadAsync($"&age=18-40&gender=male")).GetProperty("summary").GetProperty("totalClicks").GetInt64().ShouldBe(3);

        // A user who is not an admin sees only their own clicks, with the same filters.
        var own = await client.GetOkAsync($"/api/v1/analytics/features?{range}", teen.AccessToken);
        own.GetProperty("barChart").Points("feature", "clicks").ShouldBe([("export", 2), ("filter", 1)]);
        own.GetProperty("summary").GetProperty("uniqueUsers").GetInt64().ShouldBe(1);
        own.GetProperty("summary").GetProperty("allUsers").GetBoolean().ShouldBeFalse();
        (await client.GetOkAsync($"/api/v1/analytics/features?{range}&gender=male", teen.AccessToken)).GetProperty("barChart").GetArrayLength().ShouldBe(0);
    }

    [Fact]
    public async Task A_user_sees_only_their_own_clicks_while_an_admin_sees_everyones()
    {
        var client = _api.CreateClient();
        var alice = await client.SignUpAsync(database);
        var bob = await client.SignUpAsync(database);
        var admin = await client.SignUpAdminAsync(database);
        var feature = $"f_{Guid.NewGuid():N}";
        var d0 = PastDay(210);
        await client.SendEventsAsync(alice.AccessToken, FeatureClick(feature, d0.AddHours(1)), FeatureClick(feature, d0.AddHours(2)));
        await client.SendEventsAsync(bob.AccessToken, FeatureClick(feature, d0.AddHours(3)));
        var query = $"/api/v1/analytics/features?startDate={Iso(d0)}&endDate={Iso(d0.AddDays(1))}&feature={feature}";

        var mine = await client.GetOkAsync(query, alice.AccessToken);
        var everyone = await client.GetOkAsync(query, admin.AccessToken);

        mine.GetProperty("barChart").Points("feature", "clicks").ShouldBe([(feature, 2)]);
        mine.GetProperty("summary").GetProperty("totalClicks").GetInt64().ShouldBe(2);
        mine.GetProperty("lineChart").Points("date", "clicks").ShouldBe([(Day(d0), 2)]);
        everyone.GetProperty("barChart").Points("feature", "clicks").ShouldContain((feature, 3L));
        everyone.GetProperty("summary").GetProperty("activeFeatureClicks").GetInt64().ShouldBe(3);
        everyone.GetProperty("summary").GetProperty("activeFeatureUniqueUsers").GetInt64().ShouldBe(2);
    }

    [Fact]
    public async Task Without_parameters_it_covers_the_last_30_days_and_shows_the_top_feature()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);
        var now = DateTimeOffset.UtcNow;
        await client.SendEventsAsync(user.AccessToken, FeatureClick("reports", now), FeatureClick("reports", now.AddDays(-29)), FeatureClick("billing", now.AddDays(-1)),
            FeatureClick("old", now.AddDays(-31)));

        var body = await client.GetOkAsync("/api/v1/analytics/features", user.AccessToken);

        body.GetProperty("barChart").Points("feature", "clicks").ShouldBe([("reports", 2), ("billing", 1)]);
        var summary = body.GetProperty("summary");
        summary.GetProperty("activeFeature").GetString().ShouldBe("reports");
        var (start, end) = (summary.GetProperty("startDate").GetDateTimeOffset(), summary.GetProperty("endDate").GetDateTimeOffset());
        (end - start).ShouldBe(TimeSpan.FromDays(30));
        end.ShouldBeGreaterThan(now);
        end.ShouldBeLessThanOrEqualTo(DateTimeOffset.UtcNow.AddMinutes(1));
        summary.GetProperty("age").GetString().ShouldBe("all");
        summary.GetProperty("gender").GetString().ShouldBe("all");
        var line = body.GetProperty("lineChart").Points("date", "clicks");
        line.Count.ShouldBeInRange(30, 31);
        line.Sum(p => p.Count).ShouldBe(2);
        line[^1].ShouldBe((Day(end.AddTicks(-1)), end.AddTicks(-1).Date == now.UtcDateTime.Date ? 1L : 0L));
    }

    [Fact]
    public async Task A_click_shows_in_the_very_next_answer_and_a_profile_change_refilters_it()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database, profile: new { age = 30, gender = "male" });
        var d0 = PastDay(220);
        var query = $"/api/v1/analytics/features?startDate={Iso(d0)}&endDate={Iso(d0.AddDays(1))}&age=18-40";
        await client.SendEventsAsync(user.AccessToken, FeatureClick("cached", d0.AddHours(1)));
        (await client.GetOkAsync(query, user.AccessToken)).GetProperty("summary").GetProperty("totalClicks").GetInt64().ShouldBe(1);

        await client.SendEventsAsync(user.AccessToken, FeatureClick("cached", d0.AddHours(2)));
        (await client.GetOkAsync(query, user.AccessToken)).GetProperty("summary").GetProperty("totalClicks").GetInt64().ShouldBe(2);

        (await client.SendAsync(HttpMethod.Patch.Authorized("/api/v1/users/me", user.AccessToken, new { age = 50 }))).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await client.GetOkAsync(query, user.AccessToken)).GetProperty("summary").GetProperty("totalClicks").GetInt64().ShouldBe(0);
    }

    [Fact]
    public async Task Unknown_filters_and_bad_periods_are_400_with_the_allowed_values()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);
        var now = DateTimeOffset.UtcNow;

        var unknown = await client.SendAsync(HttpMethod.Get.Authorized($"/api/v1/analytics/features?age=teen&gender=robot&feature={new string('f', 101)}", user.AccessToken));
        var reversed = await client.SendAsync(HttpMethod.Get.Authorized($"/api/v1/analytics/features?startDate={Iso(now)}&endDate={Iso(now.AddDays(-1))}", user.AccessToken));
        var tooLong = await client.SendAsync(HttpMethod.Get.Authorized($"/api/v1/analytics/features?startDate={Iso(now.AddDays(-400))}&endDate={Iso(now)}", user.AccessToken));
        var notADate = await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/analytics/features?startDate=yesterday", user.AccessToken));
        var nul = await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/analytics/features?feature=a%00b", user.AccessToken));

        var errors = (await unknown.ShouldBeProblemAsync(HttpStatusCode.BadRequest)).GetProperty("errors");
        errors.GetProperty("age")[0].GetString().ShouldBe("Age must be one of: all, <18, 18-40, >40.");
        errors.GetProperty("gender")[0].GetString().ShouldBe("Gender must be one of: all, male, female, other.");
        errors.GetProperty("feature")[0].GetString()!.ShouldContain("100");
        (await reversed.ShouldBeProblemAsync(HttpStatusCode.BadRequest)).GetProperty("errors").GetProperty("startDate")[0].GetString()!.ShouldContain("after endDate");
        (await tooLong.ShouldBeProblemAsync(HttpStatusCode.BadRequest)).GetProperty("errors").GetProperty("endDate")[0].GetString()!.ShouldContain("366 days");
        (await notADate.ShouldBeProblemAsync(HttpStatusCode.BadRequest)).GetProperty("errors").GetProperty("startDate")[0].GetString()!.ShouldStartWith("'yesterday' is not a date and time");
        (await nul.ShouldBeProblemAsync(HttpStatusCode.BadRequest)).GetProperty("errors").GetProperty("feature")[0].GetString().ShouldBe("Feature must not contain control characters.");
    }

    [Fact]
    public async Task Without_a_token_it_is_401_and_an_api_key_is_not_enough()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);
        var key = await client.CreateKeyAsync(user, "app");

        await (await client.GetAsync(new Uri("/api/v1/analytics/features", UriKind.Relative))).ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
        (await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/analytics/features", key.Key))).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }
}
