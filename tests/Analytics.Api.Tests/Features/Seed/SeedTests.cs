using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Analytics.Api.Tests.Infrastructure;

namespace Analytics.Api.Tests.Features.Seed;

/// <summary>The seed command run as a process on databases of its own, then read through SQL and the API.</summary>
public sealed partial class SeedTests(TestDatabase database)
{
    private static Task<(int ExitCode, string Output, string Error)> SeedAsync(string connectionString, params string[] args) =>
        SeedAsync(connectionString, "", args);

    private static async Task<(int ExitCode, string Output, string Error)> SeedAsync(string connectionString, string redis, string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Analytics.Api.dll"));
        info.ArgumentList.Add("seed");
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["ConnectionStrings__Postgres"] = connectionString;
        info.Environment["Jwt__SigningKey"] = ApiFactory.SigningKey;
        info.Environment["Jobs__Enabled"] = "false";
        info.Environment["Redis__ConnectionString"] = redis;
        info.Environment["Admin__Email"] = "";
        info.Environment["Admin__Password"] = "";
        info.Environment["DOTNET_ENVIRONMENT"] = "Production";
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";

        using var process = Process.Start(info)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var error = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output, await error);
    }

    private async Task<(TestDatabase Fresh, string Output)> SeededAsync(params string[] args)
    {
        var connectionString = await database.CreateDatabaseAsync("seed");
        var (exitCode, output, error) = await SeedAsync(connectionString, args);
        exitCode.ShouldBe(0, error);
        return (database.On(connectionString), output);
    }

    /// <summary>Every count the seed can change.</summary>
    private static async Task<Dictionary<string, long>> CountsAsync(TestDatabase fresh)
    {
        var counts = await fresh.QueryAsync<(string Name, long Count)>("""
            select 'users', count(*) from users
            union all select 'events', count(*) from events
            union all select 'event_ids', count(*) from event_ids
            union all select 'activity', count(*) from activity_log
            union all select 'api_keys', count(*) from api_keys
            union all select 'daily_reports', count(*) from daily_reports
            union all select 'rolled_up_events', coalesce(sum(value), 0)::bigint from rollup_hourly where metric = 'events'
            union all select 'user_counts', coalesce(sum(total), 0)::bigint from user_counts
            """);
        return counts.ToDictionary(c => c.Name, c => c.Count);
    }

    [Fact]
    public async Task Seed_on_a_fresh_database_fills_every_dashboard_and_the_admin_can_sign_in()
    {
        var (fresh, output) = await SeededAsync();

        var demo = await fresh.QueryAsync<(short Age, string Gender)>("select age, gender from users where email like 'demo-%@example.com' and role = 'user' and status = 'active'");
        demo.Count.ShouldBe(10);
        demo.Select(u => u.Age switch { < 18 => "<18", <= 40 => "18-40", _ => ">40" }).Distinct().Count().ShouldBe(3);
        demo.Select(u => u.Gender).Distinct().Order().ShouldBe(["female", "male", "other"]);
        demo.Select(u => (u.Age < 18, u.Age > 40, u.Gender)).Distinct().Count().ShouldBe(9, "every age band has every gender");

        var clicks = await fresh.QueryAsync<(long Clicks, long Features, DateTime First, DateTime Last)>(
            "select count(*), count(distinct name), min(occurred_at), max(occurred_at) from events where type = 'feature_click'");
        clicks[0].Clicks.ShouldBe(220);
        clicks[0].Features.ShouldBe(8);
        clicks[0].First.ShouldBeGreaterThan(DateTime.UtcNow.AddDays(-61));
        clicks[0].Last.ShouldBeLessThanOrEqualTo(DateTime.UtcNow);

        (await fresh.ScalarAsync<long>("select count(*) from activity_log where kind = 'login'")).ShouldBeGreaterThan(10);
        (await fresh.ScalarAsync<long>("select count(*) from activity_log where kind = 'login_failed' and user_id is not null")).ShouldBeGreaterThan(0);
        (await fresh.ScalarAsync<long>("select count(*) from activity_log where kind = 'login_failed' and user_id is null")).ShouldBeGreaterThan(0);
        (await fresh.ScalarAsync<long>("select count(*) from api_keys k join users u on u.id = k.user_id where u.role = 'admin' and k.name = 'demo'")).ShouldBe(1);
        (await fresh.ScalarAsync<long>("select count(distinct metric) from rollup_hourly")).ShouldBe(5);
        (await fresh.ScalarAsync<long>("select count(*) from daily_reports where day >= current_date - 60 and day < current_date")).ShouldBe(60);
        (await fresh.ScalarAsync<long>("select count(*) from daily_reports where (report->>'logins')::int > 0")).ShouldBeGreaterThan(0);

        output.ShouldContain("ak_");
        output.ShouldContain("demo-10@example.com");
        var password = AdminPassword().Match(output);
        password.Success.ShouldBeTrue(output);

        await using var api = new ApiFactory(database, new Dictionary<string, string?> { ["ConnectionStrings:Postgres"] = fresh.ConnectionString, ["Redis:ConnectionString"] = "" });
        using var client = api.CreateClient();
        var login = await client.LoginAsync("admin@example.com", password.Groups[1].Value);
        login.StatusCode.ShouldBe(HttpStatusCode.OK);
        var token = (await login.JsonAsync()).GetProperty("accessToken").GetString()!;

        async Task<JsonElement> GetAsync(string path)
        {
            var response = await client.SendAsync(HttpMethod.Get.Authorized(path, token));
            response.StatusCode.ShouldBe(HttpStatusCode.OK, path);
            return await response.JsonAsync();
        }

        var dashboard = await GetAsync("/api/v1/admin/dashboard?preset=30d");
        var totals = dashboard.GetProperty("totals");
        totals.GetProperty("totalUsers").GetProperty("value").GetInt64().ShouldBe(11);
        totals.GetProperty("activeUsers7d").GetProperty("value").GetInt64().ShouldBeGreaterThan(0);
        totals.GetProperty("failedLogins24h").GetProperty("value").GetInt64().ShouldBeGreaterThan(0);
        totals.GetProperty("newUsers7d").GetProperty("value").GetInt64().ShouldBeGreaterThan(0);
        var series = dashboard.GetProperty("series").EnumerateArray().ToList();
        series.Sum(d => d.GetProperty("events").GetInt64()).ShouldBeGreaterThan(0);
        series.Sum(d => d.GetProperty("logins").GetInt64()).ShouldBeGreaterThan(0);

        var features = await GetAsync($"/api/v1/analytics/features?startDate={DateTime.UtcNow.AddDays(-60):yyyy-MM-dd}");
        features.GetProperty("barChart").GetArrayLength().ShouldBe(8);
        features.GetProperty("summary").GetProperty("totalClicks").GetInt64().ShouldBe(220);
        features.GetProperty("lineChart").EnumerateArray().Sum(d => d.GetProperty("clicks").GetInt64()).ShouldBeGreaterThan(0);
        foreach (var filter in new[] { "age=%3C18", "age=18-40", "age=%3E40", "gender=male", "gender=female", "gender=other" })
        {
            (await GetAsync($"/api/v1/analytics/features?{filter}")).GetProperty("summary").GetProperty("totalClicks").GetInt64().ShouldBeGreaterThan(0, filter);
        }

        (await GetAsync("/api/v1/usage/daily")).GetProperty("total").GetInt64().ShouldBeGreaterThan(0);
        (await GetAsync("/api/v1/usage/top")).GetProperty("clients").GetArrayLength().ShouldBe(1);
        (await GetAsync("/api/v1/admin/reports/daily")).GetArrayLength().ShouldBeGreaterThan(0);
    }

    [Fact]
    public async Task Activity_the_seed_adds_shows_at_once_in_a_running_nodes_cached_list()
    {
        var redis = TestRedis.ConnectionString;
        var (fresh, _) = await SeededAsync();
        const string Seeded = "select count(*) from activity_log a join users u on u.id = a.user_id where u.email = 'demo-01@example.com' and a.details ? 'seed'";
        var seeded = await fresh.ScalarAsync<long>(Seeded);
        seeded.ShouldBeGreaterThan(0);
        await fresh.ExecuteAsync("delete from activity_log a using users u where u.id = a.user_id and u.email = 'demo-01@example.com' and a.details ? 'seed'");

        // A node sharing Redis with the seed caches demo-01's list without the seeded rows.
        await using var api = new ApiFactory(database, new Dictionary<string, string?> { ["ConnectionStrings:Postgres"] = fresh.ConnectionString, ["Redis:ConnectionString"] = redis });
        using var client = api.CreateClient();
        var token = (await (await client.LoginAsync("demo-01@example.com", "analytics-demo-password")).JsonAsync()).GetProperty("accessToken").GetString()!;
        async Task<int> ListedAsync() =>
            (await (await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/users/me/activity", token))).JsonAsync()).GetProperty("items").GetArrayLength();
        var before = await ListedAsync();

        var (exitCode, _, error) = await SeedAsync(fresh.ConnectionString, redis, []);

        exitCode.ShouldBe(0, error);
        (await fresh.ScalarAsync<long>(Seeded)).ShouldBe(seeded);
        (await ListedAsync()).ShouldBe((int)Math.Min(before + seeded, 50));
    }

    [Fact]
    public async Task Seed_run_twice_changes_no_counts_and_shows_secrets_only_the_first_time()
    {
        var (fresh, first) = await SeededAsync();
        var before = await CountsAsync(fresh);

        var (exitCode, second, error) = await SeedAsync(fresh.ConnectionString);

        exitCode.ShouldBe(0, error);
        (await CountsAsync(fresh)).ShouldBe(before);
        AdminPassword().IsMatch(second).ShouldBeFalse();
        second.ShouldContain("already created");
        ApiKey().IsMatch(first).ShouldBeTrue(first);
        ApiKey().IsMatch(second).ShouldBeFalse();
    }

    [Fact]
    public async Task Seed_at_scale_inserts_exactly_the_requested_counts_and_a_rerun_adds_nothing()
    {
        var (fresh, output) = await SeededAsync("--users", "2000", "--events", "20000", "--days", "20");

        (await fresh.ScalarAsync<long>("select count(*) from users where email like 'gen-%@example.com'")).ShouldBe(2000);
        (await fresh.ScalarAsync<long>("select count(*) from events where properties is null")).ShouldBe(20000);
        (await fresh.ScalarAsync<long>("select count(*) from events where properties is null and occurred_at < now() - interval '20 days 1 minute'")).ShouldBe(0);
        (await fresh.ScalarAsync<long>("select count(*) from events where properties is null and user_id is not null")).ShouldBeGreaterThan(0);
        (await fresh.ScalarAsync<long>("select count(*) from events where properties is null and api_key_id is not null")).ShouldBeGreaterThan(0);
        (await fresh.ScalarAsync<long>("select count(*) from events e join users u on u.id = e.user_id where e.type = 'feature_click' and u.email like 'gen-%'")).ShouldBeGreaterThan(0);
        (await fresh.ScalarAsync<long>("select coalesce(sum(value), 0)::bigint from rollup_hourly where metric = 'events'")).ShouldBe(20540);
        (await fresh.ScalarAsync<long>("select total from user_counts where role = 'user'")).ShouldBe(2010);
        output.ShouldContain("2000 generated users, 20000 generated events");
        var before = await CountsAsync(fresh);

        var (exitCode, _, error) = await SeedAsync(fresh.ConnectionString, "--users", "2000", "--events", "20000", "--days", "20");

        exitCode.ShouldBe(0, error);
        (await CountsAsync(fresh)).ShouldBe(before);
    }

    [Fact]
    public void Seed_options_may_be_written_with_an_equals_sign_and_configuration_passes_by()
    {
        var (command, problem) = global::Analytics.Api.Infrastructure.Hosting.CommandLine.ParseSeed(["--users=1000", "--events", "5000", "--days=7", "Jwt:Issuer=x", "--Jwt:Audience", "y"]);

        problem.ShouldBeNull();
        (command!.Users, command.Events, command.Days).ShouldBe((1000, 5000L, 7));
        global::Analytics.Api.Infrastructure.Hosting.CommandLine.ParseSeed(["--days=0"]).Problem!.ShouldContain("--days");
    }

    [Theory]
    [InlineData("--user", "5")]
    [InlineData("--days", "0")]
    [InlineData("--events", "many")]
    public async Task Seed_with_options_it_does_not_understand_exits_2_with_one_line(string option, string value)
    {
        var (exitCode, output, error) = await SeedAsync("", option, value);

        exitCode.ShouldBe(2);
        output.ShouldBeEmpty();
        error.Trim().Split('\n').Length.ShouldBe(1);
        error.ShouldContain(option);
    }

    [GeneratedRegex(@"admin@example\.com\s+password (\S+)\s+\(generated")]
    private static partial Regex AdminPassword();

    [GeneratedRegex(@"ak_[0-9A-Za-z]{12}_[0-9A-Za-z]{43}")]
    private static partial Regex ApiKey();
}
