using System.Net;
using System.Text.Json;
using Analytics.Api.Features.Reports.Rollups;
using Analytics.Api.Tests.Infrastructure;
using MediatR;
using Microsoft.Extensions.DependencyInjection;

namespace Analytics.Api.Tests.Features.Analytics;

/// <summary>
/// The dashboard's numbers come from rollups for the hours the rollup job finished and from raw rows around them;
/// these tests hold them to the raw definitions, on a database of their own, uncached.
/// </summary>
public sealed class DashboardTests(TestDatabase database) : IAsyncLifetime
{
    // The definitions the dashboard must equal: raw rows for the totals, every rolled-up hour for the series.
    private const string RawTotalsSql = """
        select (select count(*) from activity_log a left join users u on u.id = a.user_id
                where a.kind = 'login_failed' and a.occurred_at > @Now - interval '1 day' and (@Role is null or u.role = @Role)) as FailedLogins,
               (select count(*) from users where created_at > @Now - interval '7 days' and (@Role is null or role = @Role)) as NewUsers
        """;

    private const string HourlySeriesSql = """
        select (bucket at time zone 'UTC')::date as Day,
               coalesce(sum(value) filter (where metric = 'logins'), 0)::bigint as Logins,
               coalesce(sum(value) filter (where metric = 'failed_logins'), 0)::bigint as FailedLogins,
               coalesce(sum(value) filter (where metric = 'registrations'), 0)::bigint as Registrations,
               coalesce(sum(value) filter (where metric = 'events'), 0)::bigint as Events
        from rollup_hourly
        where bucket >= @From and bucket < @To and (@Role is null or role = @Role)
        group by 1
        """;

    private static readonly string[] Roles = ["all", "user", "admin"];

    private ApiFactory _api = null!;
    private HttpClient _client = null!;
    private SignedIn _admin = null!;
    private TestDatabase _db = null!;

    public async ValueTask InitializeAsync()
    {
        var fresh = await database.CreateDatabaseAsync("dashboard");
        _db = database.On(fresh);
        _api = new ApiFactory(database, new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = fresh,
            ["Redis:ConnectionString"] = "",
            ["Dashboard:CacheFor"] = "00:00:00",
        });
        _client = _api.CreateClient();
        _admin = await _client.SignUpAdminAsync(_db);
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _api.DisposeAsync();
    }

    [Fact]
    public async Task Totals_and_series_equal_the_raw_rows_before_and_after_rollups_with_rows_after_the_watermark_and_at_the_window_edges()
    {
        // Users and failed logins just inside and just outside the 7-day and 24-hour windows, inside their first minute
        // and first hour, in whole hours between, and in the minutes of the hour before the rollups' cut.
        var now = DateTimeOffset.UtcNow;
        var user = await _client.SignUpAsync(_db);
        foreach (var (minutesAgo, index) in new[] { 7 * 1440 + 10, 7 * 1440 - 10, 7 * 1440 - 0.4, 7 * 1440 - 1.5, 3 * 1440, 1440 + 5, 1440 - 5, 1440 - 0.3, 1440 - 1.2, 120, 62.5, 40, 20, 6.5, 3 }.Select((m, i) => (m, i)))
        {
            var other = await _client.SignUpAsync(_db);
            await _db.ExecuteAsync("update users set created_at = @At where id = @Id", new { At = now.AddMinutes(-minutesAgo), Id = other.UserId });
            await _client.LoginAsync(index % 2 == 0 ? user.Email : Accounts.NewEmail("ghost"), "a wrong password");
            await _db.ExecuteAsync(
                "update activity_log set occurred_at = @At where id = (select max(id) from activity_log where kind = 'login_failed')",
                new { At = now.AddMinutes(-minutesAgo) });
        }

        await _client.LoginAsync(_admin.Email, "a wrong password");

        // No rollup run yet: everything is counted from the raw rows.
        await ShouldEqualTheRawRowsAsync();

        await SendCommandAsync(new RunRollups.Command());
        await ShouldEqualTheRawRowsAsync();

        // Rows that arrive after the rollup's watermark count at once, before the next run.
        await _client.SignUpAsync(_db);
        await _client.LoginAsync(user.Email, "a wrong password");
        await _client.LoginAsync(Accounts.NewEmail("ghost"), "a wrong password");
        await ShouldEqualTheRawRowsAsync();

        // A watermark far behind (the job stopped for a day) leaves more to the raw rows, still exactly.
        await _db.ExecuteAsync("update job_watermarks set watermark = now() - interval '30 hours' where name = 'rollups'");
        await ShouldEqualTheRawRowsAsync();

        await SendCommandAsync(new RunRollups.Command());
        await ShouldEqualTheRawRowsAsync();
    }

    [Fact]
    public async Task Series_of_any_window_equals_the_hourly_rollups_and_daily_sums_follow_reruns_and_late_rows()
    {
        var user = await _client.SignUpAsync(_db);
        var now = DateTimeOffset.UtcNow;
        await SendEventsAsync(user, [now.AddDays(-3), now.AddDays(-3).AddHours(-5), now.AddDays(-10), now.AddHours(-1), now]);
        await SendCommandAsync(new RunRollups.Command());
        await SendCommandAsync(new RunRollups.Command());
        await SendEventsAsync(user, [now.AddDays(-3).AddHours(2), now.AddDays(-12)]);
        await SendCommandAsync(new RunRollups.Command());

        var midnight = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero);
        var windows = new[]
        {
            "?preset=24h", "?preset=7d", "?preset=30d", "?preset=90d",
            Window(midnight.AddDays(-3).AddHours(2), midnight.AddDays(-3).AddHours(9)),
            Window(midnight.AddDays(-12), midnight.AddDays(-2)),
            Window(midnight.AddDays(-12).AddHours(13), midnight.AddDays(-1).AddMinutes(-30)),
            Window(midnight.AddDays(-4).AddHours(23), midnight.AddDays(-3).AddHours(1)),
        };
        foreach (var window in windows)
        {
            foreach (var role in Roles)
            {
                var body = await DashboardAsync($"{window}&role={role}");
                Series(body).ShouldBe(await HourlySeriesAsync(body, role), $"{window} role={role}");
            }
        }

        Series(await DashboardAsync("?preset=30d")).Sum(d => d.Events).ShouldBe(7);

        // A window ending at midnight has no point for the day that starts there: [from, to) is half-open.
        var endsAtMidnight = Series(await DashboardAsync(Window(midnight.AddDays(-12), midnight.AddDays(-2))));
        endsAtMidnight.Select(d => d.Day).ShouldBe(Enumerable.Range(-12, 10).Select(i => DateOnly.FromDateTime(midnight.AddDays(i).UtcDateTime)));
    }

    [Fact]
    public async Task Seven_day_active_users_of_every_window_count_each_user_once_per_role_and_once_in_all()
    {
        // a: active 9, 3 and 1 days ago; b: 7 and 6 days ago as a user, 5 days ago as an admin; c: 13 days ago; d: at
        // 23:50 UTC 11 days ago, the last minutes of a UTC day. All four signed in today. Noon of the other days, so
        // the days are the ones meant whatever the time of the run.
        var midnight = new DateTimeOffset(DateTimeOffset.UtcNow.UtcDateTime.Date, TimeSpan.Zero);
        DateTimeOffset DaysAgo(int days) => midnight.AddDays(-days).AddHours(12);
        var (a, b, c, d) = (await _client.SignUpAsync(_db), await _client.SignUpAsync(_db), await _client.SignUpAsync(_db), await _client.SignUpAsync(_db));
        await SendEventsAsync(a, [DaysAgo(9), DaysAgo(3), DaysAgo(1)]);
        await SendEventsAsync(b, [DaysAgo(7), DaysAgo(6)]);
        await SendEventsAsync(c, [DaysAgo(13)]);
        await SendEventsAsync(d, [midnight.AddDays(-10).AddMinutes(-10)]);
        await SendCommandAsync(new RunRollups.Command());
        // Then b becomes an admin. The events so far arrived long before the next run (its overlap does not read their
        // days again), so b's older days stay a user's; b's new one makes that run recompute 6 windows (-5 to today).
        await ArrivedLongAgoAsync();
        await _db.ExecuteAsync("update users set role = 'admin' where id = @Id", new { Id = b.UserId });
        await SendEventsAsync(b, [DaysAgo(5)]);
        await SendCommandAsync(new RunRollups.Command());

        // Hours and days are UTC ones.
        (await _db.QueryAsync<long>("select count(*) from rollup_hourly where bucket <> date_trunc('hour', bucket, 'UTC')")).Single().ShouldBe(0);
        var midnightDay = DateOnly.FromDateTime(midnight.UtcDateTime);
        (await _db.QueryAsync<DateTime>("select day::timestamp from rollup_active_users where user_id = @Id order by day", new { Id = d.UserId }))
            .Select(DateOnly.FromDateTime).ShouldBe([midnightDay.AddDays(-11), midnightDay]);

        // Windows of many days are one pass over their days. By hand: (15, 8] has a, c and d; (13, 6] has a, b (as a
        // user) and d; (11, 4] and (9, 2] have a, and b as a user and as an admin; today's has all five who signed in.
        var windows = await WindowsEqualTheDistinctUsersOfTheirDaysAsync(midnightDay, 14);
        long Count(int daysAgo, string role) => windows.GetValueOrDefault((midnightDay.AddDays(-daysAgo), role));
        (Count(8, "all"), Count(8, "user"), Count(8, "admin")).ShouldBe((3, 3, 0));
        (Count(6, "all"), Count(6, "user"), Count(6, "admin")).ShouldBe((3, 3, 0));
        (Count(4, "all"), Count(4, "user"), Count(4, "admin")).ShouldBe((2, 2, 1));
        (Count(2, "all"), Count(2, "user"), Count(2, "admin")).ShouldBe((2, 2, 1));
        (Count(0, "all"), Count(0, "user"), Count(0, "admin")).ShouldBe((5, 4, 2));

        // A routine run: only today's window, counted on its own.
        await ArrivedLongAgoAsync();
        await _client.SignUpAsync(_db);
        await SendCommandAsync(new RunRollups.Command());
        windows = await WindowsEqualTheDistinctUsersOfTheirDaysAsync(midnightDay, 14);
        (Count(0, "all"), Count(0, "user"), Count(0, "admin")).ShouldBe((6, 5, 2));
        var answer = await DashboardAsync("?preset=7d&role=admin");
        Total(answer, "activeUsers7d").ShouldBe(2);
        // The window the count covers: whole UTC days, today and the six before it.
        answer.GetProperty("totals").GetProperty("activeUsers7d").GetProperty("window").GetProperty("from").GetDateTimeOffset()
            .ShouldBe(new DateTimeOffset(answer.GetProperty("computedAt").GetDateTimeOffset().UtcDateTime.Date.AddDays(-6), TimeSpan.Zero));

        // A run writes its windows anew: a role nobody in the window has any more loses its row.
        await _db.ExecuteAsync("insert into rollup_active_window (as_of, days, role, value) values (@Today, 7, 'gone', 5)", new { Today = midnightDay });
        await ArrivedLongAgoAsync();
        await SendCommandAsync(new RunRollups.Command());
        (await _db.QueryAsync<long>("select count(*) from rollup_active_window where role = 'gone'")).Single().ShouldBe(0);

        // A role without a row in the latest window had nobody active in it: 0, not the count of its last window.
        await _db.ExecuteAsync("delete from rollup_active_window where role = 'admin' and as_of = @Today", new { Today = midnightDay });
        Count(2, "admin").ShouldBe(1);
        Total(await DashboardAsync("?preset=7d&role=admin"), "activeUsers7d").ShouldBe(0);
    }

    private Task ArrivedLongAgoAsync() => _db.ExecuteAsync("update events set received_at = received_at - interval '1 day'");

    // Every day of the last `days` has its window, and each equals the distinct users of its days; the windows, by day and role.
    private async Task<Dictionary<(DateOnly AsOf, string Role), long>> WindowsEqualTheDistinctUsersOfTheirDaysAsync(DateOnly today, int days)
    {
        var windows = (await _db.QueryAsync<(DateTime AsOf, string Role, long Value)>(
                "select as_of::timestamp as AsOf, role as Role, value as Value from rollup_active_window where days = 7"))
            .ToDictionary(w => (DateOnly.FromDateTime(w.AsOf), w.Role), w => w.Value);
        var asOf = Enumerable.Range(0, days).Select(d => today.AddDays(-d)).ToArray();
        asOf.Where(d => !windows.ContainsKey((d, "all"))).ShouldBeEmpty();
        var distinct = await _db.QueryAsync<(DateTime AsOf, string Role, long Value)>(
            """
            select d::timestamp as AsOf, coalesce(r.role, 'all') as Role, count(distinct r.user_id) as Value
            from unnest(@AsOf) d join rollup_active_users r on r.day > d - 7 and r.day <= d
            group by grouping sets ((d, r.role), (d))
            """,
            new { AsOf = asOf });
        windows.Where(w => w.Value > 0 && asOf.Contains(w.Key.Item1))
            .ShouldBe(distinct.Select(w => KeyValuePair.Create((DateOnly.FromDateTime(w.AsOf), w.Role), w.Value)), ignoreOrder: true);
        return windows;
    }

    private static string Window(DateTimeOffset from, DateTimeOffset to) =>
        $"?from={Uri.EscapeDataString(from.ToString("O"))}&to={Uri.EscapeDataString(to.ToString("O"))}";

    private async Task ShouldEqualTheRawRowsAsync()
    {
        foreach (var role in Roles)
        {
            var body = await DashboardAsync($"?preset=7d&role={role}");
            var now = DateTimeOffset.Parse(body.GetProperty("computedAt").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
            var raw = (await _db.QueryAsync<(long FailedLogins, long NewUsers)>(RawTotalsSql, new { Now = now, Role = role == "all" ? null : role })).Single();
            (Total(body, "failedLogins24h"), Total(body, "newUsers7d")).ShouldBe(raw, $"role={role}");
            Series(body).ShouldBe(await HourlySeriesAsync(body, role), $"role={role}");
        }
    }

    private async Task<JsonElement> DashboardAsync(string query)
    {
        var response = await _client.SendAsync(HttpMethod.Get.Authorized($"/api/v1/admin/dashboard{query}", _admin.AccessToken));
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        return await response.JsonAsync();
    }

    // The series the answer's whole hours hold in rollup_hourly, one point per day of the answer (zeros included).
    private async Task<List<DayRow>> HourlySeriesAsync(JsonElement body, string role)
    {
        var series = Series(body);
        var window = body.GetProperty("window");
        var from = Floor(DateTimeOffset.Parse(window.GetProperty("from").GetString()!, System.Globalization.CultureInfo.InvariantCulture));
        var end = DateTimeOffset.Parse(window.GetProperty("to").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        var to = end > from ? Floor(end.AddTicks(-1)).AddHours(1) : from;
        var rows = (await _db.QueryAsync<DayRow>(HourlySeriesSql, new { From = from, To = to, Role = role == "all" ? null : role })).ToDictionary(r => r.Day);
        return [.. series.Select(d => rows.GetValueOrDefault(d.Day, new DayRow(d.Day, 0, 0, 0, 0)))];
    }

    private static DateTimeOffset Floor(DateTimeOffset at) => new(at.UtcTicks - (at.UtcTicks % TimeSpan.TicksPerHour), TimeSpan.Zero);

    private static long Total(JsonElement body, string metric) => body.GetProperty("totals").GetProperty(metric).GetProperty("value").GetInt64();

    private static List<DayRow> Series(JsonElement body) =>
    [
        .. body.GetProperty("series").EnumerateArray().Select(d => new DayRow(
            DateOnly.Parse(d.GetProperty("date").GetString()!, System.Globalization.CultureInfo.InvariantCulture),
            d.GetProperty("logins").GetInt64(), d.GetProperty("failedLogins").GetInt64(), d.GetProperty("registrations").GetInt64(), d.GetProperty("events").GetInt64())),
    ];

    private async Task SendEventsAsync(SignedIn user, IEnumerable<DateTimeOffset> at) =>
        (await _client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events/batch", user.AccessToken, new { events = at.Select(t => new { type = "page_view", occurredAt = t }) })))
            .StatusCode.ShouldBe(HttpStatusCode.Accepted);

    private async Task<T> SendCommandAsync<T>(IRequest<T> command)
    {
        using var scope = _api.Services.CreateScope();
        return await scope.ServiceProvider.GetRequiredService<IMediator>().Send(command);
    }

    private sealed record DayRow(DateOnly Day, long Logins, long FailedLogins, long Registrations, long Events);
}
