using System.Globalization;
using System.Net;
using System.Text.Json;
using Analytics.Api.Features.Reports.Rollups;
using Analytics.Api.Tests.Infrastructure;
using Dapper;
using MediatR;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using static Analytics.Api.Tests.Features.Analytics.AnalyticsScenario;

namespace Analytics.Api.Tests.Features.Analytics;

/// <summary>
/// The rollup path of feature analytics (admins' answers once the rollups have run) against a recomputation from
/// the raw events, on a database of its own: whole and partial days and hours, clicks that arrived after a rollup
/// run, every filter, a user's own scope, and a user whose age and gender change after their clicks were rolled up.
/// </summary>
public sealed class FeatureAnalyticsRollupTests(TestDatabase database)
{
    private static readonly string[] Features = ["export", "search", "filter", "share"];

    private static readonly Dictionary<string, (int? Min, int? Max)> Ages = new()
    {
        ["all"] = (null, null), ["<18"] = (null, 17), ["18-40"] = (18, 40), [">40"] = (41, null),
    };

    /// <summary>Each band and gender alone, two together, and none.</summary>
    private static readonly (string Age, string Gender)[] Filters =
        [("all", "all"), ("<18", "all"), ("18-40", "all"), (">40", "all"), ("all", "male"), ("all", "female"), ("all", "other"), ("18-40", "male"), (">40", "female")];

    [Fact]
    public async Task Rolled_up_answers_equal_a_raw_recomputation_before_and_after_late_clicks_and_profile_changes()
    {
        var (api, connectionString) = await FreshServiceAsync(database);
        await using var _ = api;
        var client = api.CreateClient();
        var users = new List<SignedIn>
        {
            await client.SignUpAsync(connectionString, profile: new { age = 16, gender = "female" }),
            await client.SignUpAsync(connectionString, profile: new { age = 18, gender = "male" }),
            await client.SignUpAsync(connectionString, profile: new { age = 40, gender = "other" }),
            await client.SignUpAsync(connectionString, profile: new { age = 41, gender = "female" }),
            await client.SignUpAsync(connectionString),
        };
        var admin = await client.SignUpAdminAsync(connectionString);
        var key = await client.CreateKeyAsync(admin, "app");
        var d0 = PastDay(100);
        var random = new Random(20261121);

        // Clicks at random minutes over four days, by every user and by an API key (no user).
        async Task SendRandomClicksAsync(int perSender, DateTimeOffset from, TimeSpan span)
        {
            foreach (var credential in users.Select(u => u.AccessToken).Append(key.Key))
            {
                var clicks = Enumerable.Range(0, perSender)
                    .Select(_ => FeatureClick(Features[random.Next(Features.Length)], from.AddMinutes(random.Next((int)span.TotalMinutes)).AddSeconds(random.Next(60))))
                    .ToArray();
                await client.SendEventsAsync(credential, clicks);
            }
        }

        var periods = new (DateTimeOffset From, DateTimeOffset To)[]
        {
            (d0, d0.AddDays(4)),
            (d0.AddHours(7).AddMinutes(13), d0.AddDays(3).AddHours(5).AddMinutes(47)),
            (d0.AddDays(1).AddHours(2), d0.AddDays(1).AddHours(3)),
            (d0.AddDays(2).AddMinutes(10), d0.AddDays(2).AddMinutes(50)),
            (d0.AddHours(23).AddMinutes(59), d0.AddDays(2).AddHours(1).AddMinutes(1)),
        };

        async Task AllAnswersMatchRawAsync(string phase)
        {
            await using var connection = new NpgsqlConnection(connectionString);
            foreach (var (from, to) in periods)
            {
                foreach (var (age, gender) in Filters)
                {
                    foreach (var feature in new[] { null, "search" })
                    {
                        var query = $"/api/v1/analytics/features?startDate={Iso(from)}&endDate={Iso(to)}&age={Uri.EscapeDataString(age)}&gender={gender}"
                            + (feature is null ? "" : $"&feature={feature}");
                        var filters = new RawFilters(from, to, null, Ages[age].Min, Ages[age].Max, gender == "all" ? null : gender, feature);
                        var because = $"{phase}: {query}";
                        Describe(await client.GetOkAsync(query, admin.AccessToken)).ShouldBe(await RawAsync(connection, filters), because);
                        if (feature is null && age == "all")
                        {
                            Describe(await client.GetOkAsync(query, users[0].AccessToken)).ShouldBe(await RawAsync(connection, filters with { UserId = users[0].UserId }), because);
                        }
                    }
                }
            }
        }

        await SendRandomClicksAsync(60, d0.AddHours(-2), TimeSpan.FromDays(4.2));
        await AllAnswersMatchRawAsync("before any rollup run");

        await RunRollupsAsync(api, connectionString);
        (await ScalarAsync(connectionString, "select count(*) from feature_clicks_daily")).ShouldBeGreaterThan(0);
        (await ScalarAsync(connectionString, "select count(*) from feature_users_hourly where feature = ''")).ShouldBeGreaterThan(0);
        await BustCacheAsync(client, admin, d0);
        await AllAnswersMatchRawAsync("rolled up");

        // Those answers came from the rollups: a day's rows changed behind the service's back show in the next one.
        var wholeDays = $"/api/v1/analytics/features?startDate={Iso(d0)}&endDate={Iso(d0.AddDays(4))}";
        var rolled = (await client.GetOkAsync(wholeDays, admin.AccessToken)).GetProperty("summary").GetProperty("totalClicks").GetInt64();
        await ExecuteAsync(connectionString, "update feature_clicks_daily set clicks = clicks + 1000 where day = @Day and age_band = '*' and gender = '*' and feature = 'share'", new { Day = DateOnly.FromDateTime(d0.UtcDateTime) });
        await BustCacheAsync(client, admin, d0);
        (await client.GetOkAsync(wholeDays, admin.AccessToken)).GetProperty("summary").GetProperty("totalClicks").GetInt64().ShouldBe(rolled + 1000);
        await ExecuteAsync(connectionString, "update feature_clicks_daily set clicks = clicks - 1000 where day = @Day and age_band = '*' and gender = '*' and feature = 'share'", new { Day = DateOnly.FromDateTime(d0.UtcDateTime) });
        await BustCacheAsync(client, admin, d0);

        // Late clicks for old hours and the edges of the periods, after the run: those hours come from raw events.
        await SendRandomClicksAsync(8, d0, TimeSpan.FromDays(4));
        await client.SendEventsAsync(users[1].AccessToken, FeatureClick("search", d0.AddHours(7).AddMinutes(13)), FeatureClick("search", d0.AddDays(3).AddHours(5).AddMinutes(46)));
        await AllAnswersMatchRawAsync("clicks after the run");

        await RunRollupsAsync(api, connectionString);
        await BustCacheAsync(client, admin, d0);
        await AllAnswersMatchRawAsync("rolled up again");

        // Rolled-up clicks follow their user to the new age band and gender, and back.
        var update = await client.SendAsync(HttpMethod.Patch.Authorized("/api/v1/users/me", users[1].AccessToken, new { age = 50, gender = "female" }));
        update.StatusCode.ShouldBe(HttpStatusCode.OK);
        await AllAnswersMatchRawAsync("after a profile change");
        await RunRollupsAsync(api, connectionString);
        (await client.SendAsync(HttpMethod.Patch.Authorized("/api/v1/users/me", users[1].AccessToken, new { age = 17, gender = "male" }))).StatusCode.ShouldBe(HttpStatusCode.OK);
        await AllAnswersMatchRawAsync("after a second profile change");
        (await ScalarAsync(connectionString, "select count(*) from feature_clicks_hourly where clicks <= 0")).ShouldBe(0);

        // Runs that read the same users' hours again numbered nobody twice and spent no number: the numbers stay dense.
        (await ScalarAsync(connectionString, "select count(*) from feature_click_users")).ShouldBe(users.Count + 1);
        (await ScalarAsync(connectionString, "select last_value + 1 from feature_click_user_numbers")).ShouldBe(users.Count + 1);
    }

    /// <summary>
    /// Runs the rollups, then dates every event's arrival an hour back, as if the run had come well after them:
    /// otherwise every hour would still count as possibly incomplete and be read from raw events.
    /// </summary>
    private static async Task RunRollupsAsync(ApiFactory api, string connectionString)
    {
        using (var scope = api.Services.CreateScope())
        {
            await scope.ServiceProvider.GetRequiredService<IMediator>().Send(new RunRollups.Command());
        }

        await using var connection = new NpgsqlConnection(connectionString);
        await connection.ExecuteAsync("update events set received_at = received_at - interval '1 hour'");
    }

    /// <summary>A click far outside every period: it bumps the cached answers' generation without changing them.</summary>
    private static Task BustCacheAsync(HttpClient client, SignedIn admin, DateTimeOffset d0) =>
        client.SendEventsAsync(admin.AccessToken, FeatureClick("elsewhere", d0.AddDays(-30)));

    private static async Task ExecuteAsync(string connectionString, string sql, object parameters)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.ExecuteAsync(sql, parameters);
    }

    private static async Task<long> ScalarAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        return await connection.ExecuteScalarAsync<long>(sql);
    }

    private sealed record RawFilters(DateTimeOffset From, DateTimeOffset To, Guid? UserId, int? MinAge, int? MaxAge, string? Gender, string? Feature);

    private const string RawClicks = """
        events e left join users u on u.id = e.user_id
        where e.type = 'feature_click' and e.occurred_at >= @From and e.occurred_at < @To
          and (@UserId::uuid is null or e.user_id = @UserId)
          and (@MinAge::int is null or u.age >= @MinAge) and (@MaxAge::int is null or u.age <= @MaxAge)
          and (@Gender::text is null or u.gender = @Gender)
        """;

    /// <summary>The answer recomputed from raw events, in the shape of <see cref="Describe"/>.</summary>
    private static async Task<string> RawAsync(NpgsqlConnection connection, RawFilters f)
    {
        var bars = (await connection.QueryAsync<(string Feature, long Clicks)>(
            $"select e.name, count(*) from {RawClicks} group by e.name order by count(*) desc, e.name collate \"C\" limit 100", f)).ToList();
        var total = await connection.QuerySingleAsync<(long Clicks, long Users)>($"select count(*), count(distinct e.user_id) from {RawClicks}", f);
        var active = f.Feature ?? bars.FirstOrDefault().Feature;
        var perDay = new Dictionary<string, long>();
        (long Clicks, long Users) featureTotal = (0, 0);
        if (active is not null)
        {
            var withFeature = f with { Feature = active };
            perDay = (await connection.QueryAsync<(string Day, long Clicks)>(
                    $"select to_char((e.occurred_at at time zone 'UTC')::date, 'YYYY-MM-DD'), count(*) from {RawClicks} and e.name = @Feature group by 1", withFeature))
                .ToDictionary(r => r.Day, r => r.Clicks);
            featureTotal = await connection.QuerySingleAsync<(long, long)>($"select count(*), count(distinct e.user_id) from {RawClicks} and e.name = @Feature", withFeature);
        }

        var days = new List<string>();
        for (var day = f.From.UtcDateTime.Date; day < f.To.UtcDateTime; day = day.AddDays(1))
        {
            var label = day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
            days.Add($"{label}={perDay.GetValueOrDefault(label)}");
        }

        return $"bars [{string.Join(", ", bars.Select(b => $"{b.Feature}={b.Clicks}"))}] line [{string.Join(", ", days)}] "
            + $"total {total.Clicks}/{total.Users} active {active ?? "-"} {featureTotal.Clicks}/{featureTotal.Users}";
    }

    private static string Describe(JsonElement body)
    {
        var summary = body.GetProperty("summary");
        return $"bars [{string.Join(", ", body.GetProperty("barChart").Points("feature", "clicks").Select(p => $"{p.Label}={p.Count}"))}] "
            + $"line [{string.Join(", ", body.GetProperty("lineChart").Points("date", "clicks").Select(p => $"{p.Label}={p.Count}"))}] "
            + $"total {summary.GetProperty("totalClicks").GetInt64()}/{summary.GetProperty("uniqueUsers").GetInt64()} "
            + $"active {summary.GetProperty("activeFeature").GetString() ?? "-"} "
            + $"{summary.GetProperty("activeFeatureClicks").GetInt64()}/{summary.GetProperty("activeFeatureUniqueUsers").GetInt64()}";
    }
}
