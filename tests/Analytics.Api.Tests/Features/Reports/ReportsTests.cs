using System.Net;
using System.Text.Json;
using Analytics.Api.Features.Reports.DailyReport;
using Analytics.Api.Features.Reports.Rollups;
using Analytics.Api.Tests.Infrastructure;
using MediatR;
using Microsoft.Extensions.DependencyInjection;

namespace Analytics.Api.Tests.Features.Reports;

/// <summary>Dashboard, rollups and daily reports on a database of their own, so every number can be computed by hand.</summary>
public sealed class ReportsTests(TestDatabase database) : IAsyncLifetime
{
    private ApiFactory _api = null!;
    private HttpClient _client = null!;
    private SignedIn _admin = null!;
    private SignedIn _u1 = null!;
    private SignedIn _u2 = null!;

    public async ValueTask InitializeAsync()
    {
        var fresh = await database.CreateDatabaseAsync("reports");
        Fresh = database.On(fresh);
        // In-process stores: cache generations in the shared Redis are bumped by every other test's registrations.
        _api = new ApiFactory(database, new Dictionary<string, string?> { ["ConnectionStrings:Postgres"] = fresh, ["Redis:ConnectionString"] = "" });
        _client = _api.CreateClient();

        // 3 users (1 admin), 4 logins (admin 2, users 1 each), 3 failed logins (2 for u1, 1 unknown e-mail), 5 events.
        _admin = await _client.SignUpAdminAsync(Fresh);
        _u1 = await _client.SignUpAsync(Fresh);
        _u2 = await _client.SignUpAsync(Fresh);
        await _client.LoginAsync(_u1.Email, "a wrong password 1");
        await _client.LoginAsync(_u1.Email, "a wrong password 2");
        await _client.LoginAsync(Accounts.NewEmail("ghost"), "a wrong password 3");
        await SendAsync(_u1, Enumerable.Repeat<object>(new { type = "page_view" }, 3));
        await SendAsync(_u2, Enumerable.Repeat<object>(new { type = "feature_click", name = "search" }, 2));
    }

    private TestDatabase Fresh { get; set; } = null!;

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _api.DisposeAsync();
    }

    private async Task SendAsync(SignedIn user, IEnumerable<object> events) =>
        (await _client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events/batch", user.AccessToken, new { events }))).StatusCode.ShouldBe(HttpStatusCode.Accepted);

    private async Task<T> SendCommandAsync<T>(IRequest<T> command)
    {
        using var scope = _api.Services.CreateScope();
        return await scope.ServiceProvider.GetRequiredService<IMediator>().Send(command);
    }

    private async Task<JsonElement> DashboardAsync(string query = "")
    {
        var response = await _client.SendAsync(HttpMethod.Get.Authorized($"/api/v1/admin/dashboard{query}", _admin.AccessToken));
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        return await response.JsonAsync();
    }

    private static long Total(JsonElement body, string metric) => body.GetProperty("totals").GetProperty(metric).GetProperty("value").GetInt64();

    private static JsonElement Today(JsonElement body) => body.GetProperty("series").EnumerateArray().Last();

    [Fact]
    public async Task Dashboard_numbers_match_the_hand_computed_data_set_for_each_role()
    {
        await SendCommandAsync(new RunRollups.Command());

        var all = await DashboardAsync("?preset=7d");
        var users = await DashboardAsync("?role=user");
        var admins = await DashboardAsync("?role=admin");

        (Total(all, "totalUsers"), Total(users, "totalUsers"), Total(admins, "totalUsers")).ShouldBe((3, 2, 1));
        (Total(all, "newUsers7d"), Total(users, "newUsers7d"), Total(admins, "newUsers7d")).ShouldBe((3, 2, 1));
        (Total(all, "activeUsers7d"), Total(users, "activeUsers7d"), Total(admins, "activeUsers7d")).ShouldBe((3, 2, 1));
        (Total(all, "failedLogins24h"), Total(users, "failedLogins24h"), Total(admins, "failedLogins24h")).ShouldBe((3, 2, 0));
        var today = Today(all);
        (today.GetProperty("logins").GetInt64(), today.GetProperty("failedLogins").GetInt64(), today.GetProperty("registrations").GetInt64(), today.GetProperty("events").GetInt64()).ShouldBe((4, 3, 3, 5));
        Today(admins).GetProperty("logins").GetInt64().ShouldBe(2);
        all.GetProperty("series").GetArrayLength().ShouldBe(8);
        all.GetProperty("totals").GetProperty("failedLogins24h").GetProperty("window").GetProperty("from").GetString().ShouldNotBeNull();
    }

    [Fact]
    public async Task Dashboard_is_cached_made_stale_by_a_registration_and_shows_logins_after_the_next_rollup()
    {
        await SendCommandAsync(new RunRollups.Command());
        var first = await DashboardAsync();
        var second = await DashboardAsync();
        first.GetProperty("fromCache").GetBoolean().ShouldBeFalse();
        second.GetProperty("fromCache").GetBoolean().ShouldBeTrue();
        second.GetProperty("computedAt").GetString().ShouldBe(first.GetProperty("computedAt").GetString());

        await _client.RegisterAsync(Accounts.NewEmail());
        var afterRegistration = await DashboardAsync();
        afterRegistration.GetProperty("fromCache").GetBoolean().ShouldBeFalse();
        Total(afterRegistration, "totalUsers").ShouldBe(4);

        await _client.LoginAsync(_u1.Email);
        var beforeRollup = await DashboardAsync();
        beforeRollup.GetProperty("fromCache").GetBoolean().ShouldBeTrue();
        Today(beforeRollup).GetProperty("logins").GetInt64().ShouldBe(4);

        await SendCommandAsync(new RunRollups.Command());
        var afterRollup = await DashboardAsync();
        afterRollup.GetProperty("fromCache").GetBoolean().ShouldBeFalse();
        Today(afterRollup).GetProperty("logins").GetInt64().ShouldBe(5);
    }

    [Fact]
    public async Task Rollups_equal_a_recomputation_from_raw_rows_are_idempotent_and_catch_up_late_events()
    {
        await SendCommandAsync(new RunRollups.Command());
        const string Snapshot = "select string_agg(concat_ws('|', bucket, metric, role, dimension, value), ',' order by bucket, metric, role, dimension) from rollup_hourly";
        var first = await Fresh.ScalarAsync<string>(Snapshot);

        (await Fresh.ScalarAsync<long>("select coalesce(sum(value), 0) from rollup_hourly where metric = 'events'")).ShouldBe(await Fresh.ScalarAsync<long>("select count(*) from events"));
        (await Fresh.ScalarAsync<long>("select coalesce(sum(value), 0) from rollup_hourly where metric = 'logins'")).ShouldBe(await Fresh.ScalarAsync<long>("select count(*) from activity_log where kind = 'login'"));
        (await Fresh.ScalarAsync<long>("select coalesce(sum(value), 0) from rollup_hourly where metric = 'failed_logins'")).ShouldBe(await Fresh.ScalarAsync<long>("select count(*) from activity_log where kind = 'login_failed'"));
        (await Fresh.ScalarAsync<long>("select coalesce(sum(value), 0) from rollup_hourly where metric = 'registrations'")).ShouldBe(await Fresh.ScalarAsync<long>("select count(*) from users"));
        (await Fresh.ScalarAsync<long>("select coalesce(sum(value), 0) from rollup_hourly where metric = 'feature_clicks' and dimension = 'search'")).ShouldBe(2);
        (await Fresh.ScalarAsync<long>("select coalesce(sum(value), 0) from rollup_minutely where metric = 'failed_logins'")).ShouldBe(await Fresh.ScalarAsync<long>("select count(*) from activity_log where kind = 'login_failed'"));
        (await Fresh.ScalarAsync<long>("select coalesce(sum(value), 0) from rollup_minutely where metric = 'registrations'")).ShouldBe(await Fresh.ScalarAsync<long>("select count(*) from users"));

        await SendCommandAsync(new RunRollups.Command());
        (await Fresh.ScalarAsync<string>(Snapshot)).ShouldBe(first);

        var threeDaysAgo = DateTimeOffset.UtcNow.AddDays(-3);
        await SendAsync(_u1, [new { type = "custom", name = "late", occurredAt = threeDaysAgo }]);
        await SendCommandAsync(new RunRollups.Command());
        var hour = new DateTimeOffset(threeDaysAgo.Year, threeDaysAgo.Month, threeDaysAgo.Day, threeDaysAgo.Hour, 0, 0, TimeSpan.Zero);
        (await Fresh.ScalarAsync<long>("select value from rollup_hourly where bucket = @hour and metric = 'events' and dimension = 'custom'", new { hour })).ShouldBe(1);
        (await Fresh.ScalarAsync<long>("select count(*) from rollup_active_users where day = @day", new { day = DateOnly.FromDateTime(threeDaysAgo.UtcDateTime) })).ShouldBe(1);
    }

    [Fact]
    public async Task Daily_report_for_a_day_holds_its_numbers_and_top_features_and_the_job_backfills_missing_days()
    {
        var yesterday = DateOnly.FromDateTime(DateTime.UtcNow).AddDays(-1);
        var noon = new DateTimeOffset(yesterday.ToDateTime(new TimeOnly(12, 0)), TimeSpan.Zero);
        await SendAsync(_u1, [
            new { type = "feature_click", name = "export", occurredAt = noon },
            new { type = "feature_click", name = "export", occurredAt = noon },
            new { type = "feature_click", name = "share", occurredAt = noon },
            new { type = "page_view", occurredAt = noon },
        ]);

        var run = await _client.SendAsync(HttpMethod.Post.Authorized($"/api/v1/admin/reports/daily/{yesterday:yyyy-MM-dd}/run", _admin.AccessToken));

        run.StatusCode.ShouldBe(HttpStatusCode.OK);
        var report = await run.JsonAsync();
        report.GetProperty("activeUsers").GetInt64().ShouldBe(1);
        report.GetProperty("eventsByType").GetProperty("feature_click").GetInt64().ShouldBe(3);
        report.GetProperty("eventsByType").GetProperty("page_view").GetInt64().ShouldBe(1);
        var top = report.GetProperty("topFeatures").EnumerateArray().Select(f => (f.GetProperty("feature").GetString(), f.GetProperty("clicks").GetInt64())).ToList();
        top.ShouldBe([("export", 2L), ("share", 1L)]);
        var fetched = await (await _client.SendAsync(HttpMethod.Get.Authorized($"/api/v1/admin/reports/daily/{yesterday:yyyy-MM-dd}", _admin.AccessToken))).JsonAsync();
        fetched.GetProperty("topFeatures").GetArrayLength().ShouldBe(2);

        var generated = await SendCommandAsync(new DailyReport.Scheduled());

        generated.Count.ShouldBe(DailyReport.BackfillDays - 1);
        (await Fresh.ScalarAsync<long>("select count(*) from daily_reports")).ShouldBe(DailyReport.BackfillDays);
        var list = await (await _client.SendAsync(HttpMethod.Get.Authorized("/api/v1/admin/reports/daily", _admin.AccessToken))).JsonAsync();
        list.GetArrayLength().ShouldBe(30);
        (await SendCommandAsync(new DailyReport.Scheduled())).ShouldBeEmpty();
    }

    [Fact]
    public async Task A_stored_report_is_rebuilt_by_the_rollup_run_that_takes_in_late_events_of_its_day()
    {
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        var (reported, unreported, quiet) = (today.AddDays(-2), today.AddDays(-3), today.AddDays(-4));
        var path = $"/api/v1/admin/reports/daily/{reported:yyyy-MM-dd}";
        (await _client.SendAsync(HttpMethod.Post.Authorized($"{path}/run", _admin.AccessToken))).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await _client.SendAsync(HttpMethod.Post.Authorized($"/api/v1/admin/reports/daily/{quiet:yyyy-MM-dd}/run", _admin.AccessToken))).StatusCode.ShouldBe(HttpStatusCode.OK);
        var before = await (await _client.SendAsync(HttpMethod.Get.Authorized(path, _admin.AccessToken))).JsonAsync();
        before.GetProperty("eventsByType").EnumerateObject().ShouldBeEmpty();

        // An app that was offline sends what happened on those days.
        await SendAsync(_u2, [
            new { type = "feature_click", name = "offline", occurredAt = new DateTimeOffset(reported.ToDateTime(new TimeOnly(9, 30)), TimeSpan.Zero) },
            new { type = "page_view", occurredAt = new DateTimeOffset(reported.ToDateTime(new TimeOnly(23, 59)), TimeSpan.Zero) },
            new { type = "page_view", occurredAt = new DateTimeOffset(unreported.ToDateTime(new TimeOnly(12, 0)), TimeSpan.Zero) },
        ]);
        var rolled = await SendCommandAsync(new RunRollups.Command());

        // Only the stored report whose day changed: not the quiet day's, and none for the day without one.
        rolled.Reports.Select(r => r.Day).ShouldBe([reported]);
        var after = await (await _client.SendAsync(HttpMethod.Get.Authorized(path, _admin.AccessToken))).JsonAsync();
        after.GetProperty("eventsByType").GetProperty("feature_click").GetInt64().ShouldBe(1);
        after.GetProperty("eventsByType").GetProperty("page_view").GetInt64().ShouldBe(1);
        after.GetProperty("activeUsers").GetInt64().ShouldBe(1);
        after.GetProperty("topFeatures")[0].GetProperty("feature").GetString().ShouldBe("offline");
        (await Fresh.ScalarAsync<long>("select (report->'eventsByType'->>'page_view')::bigint from daily_reports where day = @reported", new { reported })).ShouldBe(1);
        (await Fresh.ScalarAsync<long>("select count(*) from daily_reports where day = @unreported", new { unreported })).ShouldBe(0);

        // The next run reads the same late events again (the watermark's overlap): same numbers, the report stays as stored.
        var generatedAt = await Fresh.ScalarAsync<DateTime>("select generated_at from daily_reports where day = @reported", new { reported });
        (await SendCommandAsync(new RunRollups.Command())).Reports.ShouldBeEmpty();
        (await Fresh.ScalarAsync<DateTime>("select generated_at from daily_reports where day = @reported", new { reported })).ShouldBe(generatedAt);
    }

    [Fact]
    public async Task Reports_and_dashboard_refuse_bad_input_and_non_admins()
    {
        await (await _client.SendAsync(HttpMethod.Get.Authorized("/api/v1/admin/dashboard?role=owner&preset=1y", _admin.AccessToken))).ShouldBeProblemAsync(HttpStatusCode.BadRequest);
        (await (await _client.SendAsync(HttpMethod.Get.Authorized("/api/v1/admin/reports/daily/2020-01-01", _admin.AccessToken))).ShouldBeProblemAsync(HttpStatusCode.NotFound))
            .GetProperty("detail").GetString()!.ShouldContain("reports cover the last year only");
        (await (await _client.SendAsync(HttpMethod.Get.Authorized("/api/v1/admin/reports/daily/not-a-date", _admin.AccessToken))).ShouldBeProblemAsync(HttpStatusCode.BadRequest))
            .GetProperty("errors").GetProperty("date")[0].GetString().ShouldBe("'not-a-date' is not a date (YYYY-MM-DD).");
        (await (await _client.SendAsync(HttpMethod.Get.Authorized("/api/v1/admin/reports/daily/0001-01-01", _admin.AccessToken))).ShouldBeProblemAsync(HttpStatusCode.BadRequest))
            .GetProperty("errors").GetProperty("date")[0].GetString()!.ShouldContain("between 1970-01-01 and");
        await (await _client.SendAsync(HttpMethod.Post.Authorized($"/api/v1/admin/reports/daily/{DateTime.UtcNow.AddDays(3):yyyy-MM-dd}/run", _admin.AccessToken))).ShouldBeProblemAsync(HttpStatusCode.BadRequest);
        await (await _client.SendAsync(HttpMethod.Get.Authorized("/api/v1/admin/dashboard", _u1.AccessToken))).ShouldBeProblemAsync(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task Today_cannot_be_reported_before_it_is_over_and_dates_at_the_calendars_ends_are_400_not_500()
    {
        var today = await (await _client.SendAsync(HttpMethod.Post.Authorized($"/api/v1/admin/reports/daily/{DateTime.UtcNow:yyyy-MM-dd}/run", _admin.AccessToken))).ShouldBeProblemAsync(HttpStatusCode.BadRequest);
        today.GetProperty("errors").EnumerateObject().First().Value[0].GetString()!.ShouldContain("over");
        (await Fresh.ScalarAsync<long>("select count(*) from daily_reports where day = @Today", new { Today = DateOnly.FromDateTime(DateTime.UtcNow) })).ShouldBe(0);

        foreach (var path in new[]
        {
            "/api/v1/admin/dashboard?to=0001-01-01T00:00:00Z",
            "/api/v1/admin/dashboard?from=9999-12-25T00:00:00Z&to=9999-12-31T23:00:00Z",
            "/api/v1/analytics/features?endDate=0001-01-01T00:00:00Z",
            "/api/v1/analytics/features?startDate=9999-12-31T00:00:00Z&endDate=9999-12-31T23:00:00Z",
            "/api/v1/usage/top?to=0001-01-01T00:00:00Z",
            "/api/v1/usage/daily?to=0001-01-01T00:00:00Z",
            "/api/v1/admin/reports/daily?to=0001-01-01",
            "/api/v1/admin/reports/daily?from=0001-01-01",
        })
        {
            var problem = await (await _client.SendAsync(HttpMethod.Get.Authorized(path, _admin.AccessToken))).ShouldBeProblemAsync(HttpStatusCode.BadRequest);
            problem.GetProperty("errors").EnumerateObject().First().Value[0].GetString()!.ShouldContain("between 1970-01-01 and 3000-01-01", customMessage: path);
        }

        // A start after today with no end is a start after the end (the list used to answer it with nothing).
        var later = await (await _client.SendAsync(HttpMethod.Get.Authorized("/api/v1/admin/reports/daily?from=2999-01-01", _admin.AccessToken))).ShouldBeProblemAsync(HttpStatusCode.BadRequest);
        later.GetProperty("errors").EnumerateObject().First().Value[0].GetString()!.ShouldContain("after to");
    }
}
