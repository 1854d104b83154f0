using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Analytics.Api.Features.Reports.Alerts;
using Analytics.Api.Tests.Infrastructure;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Analytics.Api.Tests.Features.Reports;

/// <summary>
/// Failed-login alerts, each test on a database and in-process stores of its own, so every count is the test's.
/// Failures come through the real sign-in endpoint (with throttling and lockout out of the way); the check runs by
/// sending its command, and time passes by moving the activity rows back.
/// Thresholds: global 6, per IP 4, per account 3; baseline window 10 minutes before the 5-minute window.
/// </summary>
public sealed class AlertsTests(TestDatabase database) : IAsyncLifetime
{
    private const string RemoteIpHeader = "X-Test-Remote-Ip";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private ApiFactory _api = null!;
    private WebApplicationFactory<Program> _node = null!;
    private HttpClient _client = null!;
    private SignedIn _admin = null!;
    private SignedIn _otherAdmin = null!;
    private SignedIn _user = null!;

    private TestDatabase Fresh { get; set; } = null!;

    public async ValueTask InitializeAsync()
    {
        var fresh = await database.CreateDatabaseAsync("alerts");
        Fresh = database.On(fresh);
        _api = new ApiFactory(database, Settings());
        _node = _api.WithWebHostBuilder(b => b.ConfigureServices(s => s.AddSingleton<IStartupFilter>(new RemoteIpFromTestHeader())));
        _client = _node.CreateClient();
        _admin = await _client.SignUpAdminAsync(Fresh);
        _otherAdmin = await _client.SignUpAdminAsync(Fresh);
        _user = await _client.SignUpAsync(Fresh);
    }

    private Dictionary<string, string?> Settings() => new()
    {
        ["ConnectionStrings:Postgres"] = Fresh.ConnectionString,
        ["Redis:ConnectionString"] = "",
        ["SignIn:MaxAttemptsPerEmail"] = "100000",
        ["SignIn:MaxAttemptsPerIp"] = "100000",
        ["SignIn:LockoutThreshold"] = "100000",
        ["Alerts:GlobalThreshold"] = "6",
        ["Alerts:IpThreshold"] = "4",
        ["Alerts:AccountThreshold"] = "3",
        ["Alerts:BaselineWindow"] = "00:10:00",
    };

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _node.DisposeAsync();
        await _api.DisposeAsync();
    }

    private async Task<CheckAlerts.Result> CheckAsync()
    {
        using var scope = _node.Services.CreateScope();
        return await scope.ServiceProvider.GetRequiredService<IMediator>().Send(new CheckAlerts.Command());
    }

    private async Task FailAsync(string email, int times, string? fromIp = null)
    {
        for (var i = 0; i < times; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/v1/auth/login", UriKind.Relative))
            {
                Content = JsonContent.Create(new { email, password = "not the password" }),
            };
            if (fromIp is not null)
            {
                request.Headers.Add(RemoteIpHeader, fromIp);
            }

            (await _client.SendAsync(request)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        }
    }

    private Task MoveFailuresBackAsync(TimeSpan by) =>
        Fresh.ExecuteAsync("update activity_log set occurred_at = occurred_at - @by where kind = 'login_failed'", new { by });

    private async Task<JsonElement> ListAsync(string query = "")
    {
        var response = await _client.SendAsync(HttpMethod.Get.Authorized($"/api/v1/admin/alerts{query}", _admin.AccessToken));
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        return await response.JsonAsync();
    }

    [Fact]
    public async Task Failed_logins_over_the_account_threshold_open_one_alert_mail_every_admin_and_list_it()
    {
        await FailAsync(_user.Email, 3);

        var first = await CheckAsync();
        var second = await CheckAsync();

        first.Opened.Count.ShouldBe(1);
        second.Opened.ShouldBeEmpty();
        second.Updated.ShouldBe(1);
        (await Fresh.ScalarAsync<long>("select count(*) from alerts")).ShouldBe(1);
        foreach (var admin in new[] { _admin, _otherAdmin })
        {
            var subjects = await Fresh.QueryAsync<string>("select subject from outbox where recipient = @Email and subject like 'Alert:%'", new { admin.Email });
            subjects.ShouldBe([$"Alert: 3 failed sign-ins on the account {_user.Email}"]);
        }

        (await Fresh.ScalarAsync<long>("select count(*) from outbox where recipient = @Email and subject like 'Alert:%'", new { _user.Email })).ShouldBe(0);
        var listed = (await ListAsync()).EnumerateArray().ShouldHaveSingleItem();
        listed.GetProperty("id").GetGuid().ShouldBe(first.Opened[0].Id);
        listed.GetProperty("scope").GetString().ShouldBe("account");
        listed.GetProperty("subject").GetString().ShouldBe(_user.UserId.ToString());
        listed.GetProperty("email").GetString().ShouldBe(_user.Email);
        listed.GetProperty("status").GetString().ShouldBe("open");
        listed.GetProperty("windowCount").GetInt64().ShouldBe(3);
        listed.GetProperty("peakCount").GetInt64().ShouldBe(3);
        listed.GetProperty("threshold").GetInt64().ShouldBe(3);
        listed.GetProperty("acknowledgedAt").ValueKind.ShouldBe(JsonValueKind.Null);
        (await ListAsync("?status=open")).GetArrayLength().ShouldBe(1);
    }

    [Fact]
    public async Task Open_alert_follows_the_count_stays_open_above_half_the_threshold_and_closes_when_the_window_passes()
    {
        await FailAsync(_user.Email, 3);
        await CheckAsync();
        await FailAsync(_user.Email, 2);
        (await CheckAsync()).Updated.ShouldBe(1);

        await MoveFailuresBackAsync(TimeSpan.FromMinutes(10));
        await FailAsync(_user.Email, 2);
        var belowThreshold = await CheckAsync();

        belowThreshold.Closed.ShouldBe(0);
        var open = (await ListAsync("?status=open")).EnumerateArray().ShouldHaveSingleItem();
        (open.GetProperty("windowCount").GetInt64(), open.GetProperty("peakCount").GetInt64()).ShouldBe((2, 5));

        await MoveFailuresBackAsync(TimeSpan.FromMinutes(10));
        await FailAsync(_user.Email, 1);
        var passed = await CheckAsync();

        passed.Closed.ShouldBe(1);
        (await ListAsync("?status=open")).GetArrayLength().ShouldBe(0);
        var closed = (await ListAsync()).EnumerateArray().ShouldHaveSingleItem();
        closed.GetProperty("status").GetString().ShouldBe("closed");
        closed.GetProperty("closedAt").GetString().ShouldNotBeNull();
        closed.GetProperty("windowCount").GetInt64().ShouldBe(1);

        await FailAsync(_user.Email, 3);
        (await CheckAsync()).Opened.Count.ShouldBe(1);
        (await ListAsync()).GetArrayLength().ShouldBe(2);
        (await Fresh.ScalarAsync<long>("select count(*) from outbox where recipient = @Email and subject like 'Alert:%'", new { _admin.Email })).ShouldBe(2);
    }

    [Fact]
    public async Task Global_per_ip_and_per_unknown_email_scopes_each_open_their_own_alert()
    {
        var ghost = Accounts.NewEmail("ghost");
        for (var i = 0; i < 4; i++)
        {
            await FailAsync(Accounts.NewEmail("sprayed"), 1, fromIp: "203.0.113.9");
        }

        await FailAsync(ghost, 3, fromIp: "198.51.100.7");

        var opened = (await CheckAsync()).Opened;

        opened.Select(a => (a.Scope, a.Subject)).ShouldBe([("account", ghost), ("global", ""), ("ip", "203.0.113.9")], ignoreOrder: true);
        var global = opened.Single(a => a.Scope == "global");
        (global.WindowCount, global.Threshold, global.Baseline).ShouldBe((7L, 6L, (double?)0.0));
        opened.Single(a => a.Scope == "ip").Baseline.ShouldBeNull();
        opened.Single(a => a.Scope == "account").Email.ShouldBe(ghost);
        (await Fresh.ScalarAsync<long>("select count(*) from outbox where recipient = @Email and subject like 'Alert:%'", new { _admin.Email })).ShouldBe(3);
        (await CheckAsync()).Opened.ShouldBeEmpty();
        (await Fresh.ScalarAsync<long>("select count(*) from alerts where closed_at is null")).ShouldBe(3);
    }

    [Fact]
    public async Task An_address_counts_as_the_sign_in_limit_counts_it_IPv6_by_its_64_network()
    {
        for (var i = 1; i <= 4; i++)
        {
            await FailAsync(Accounts.NewEmail("v6"), 1, fromIp: $"2001:db8:7:7::{i:x}");
        }

        await FailAsync(Accounts.NewEmail("v4"), 2, fromIp: "::ffff:192.0.2.5");
        await FailAsync(Accounts.NewEmail("v4"), 2, fromIp: "192.0.2.5");

        var opened = (await CheckAsync()).Opened;

        opened.Select(a => (a.Scope, a.Subject)).ShouldBe([("global", ""), ("ip", "2001:db8:7:7::/64"), ("ip", "192.0.2.5")], ignoreOrder: true);
    }

    [Fact]
    public async Task Throttled_attempts_count_for_the_account_they_name()
    {
        var settings = Settings();
        settings["SignIn:MaxAttemptsPerEmail"] = "1";
        await using var throttled = new ApiFactory(database, settings);
        var client = throttled.CreateClient();

        (await client.LoginAsync(_user.Email, "not the password")).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await client.LoginAsync(_user.Email, "not the password")).StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);
        (await client.LoginAsync(_user.Email, "not the password")).StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);

        var alert = (await CheckAsync()).Opened.ShouldHaveSingleItem();
        (alert.Scope, alert.Subject, alert.Email, alert.WindowCount).ShouldBe(("account", _user.UserId.ToString(), _user.Email, 3L));
    }

    [Fact]
    public async Task Global_count_within_three_times_the_trailing_baseline_opens_no_global_alert()
    {
        // 12 failures 7 minutes ago are a baseline of 6 per 5 minutes (the 10-minute baseline window holds two windows).
        for (var i = 0; i < 12; i++)
        {
            await FailAsync(Accounts.NewEmail("earlier"), 1);
        }

        await MoveFailuresBackAsync(TimeSpan.FromMinutes(7));
        for (var i = 0; i < 7; i++)
        {
            await FailAsync(Accounts.NewEmail("now"), 1);
        }

        (await CheckAsync()).Opened.ShouldBeEmpty();
        (await Fresh.ScalarAsync<long>("select count(*) from alerts")).ShouldBe(0);
    }

    [Fact]
    public async Task Acknowledge_records_the_first_admin_and_time_is_idempotent_404_for_unknown_and_403_for_users()
    {
        await FailAsync(_user.Email, 3);
        var id = (await CheckAsync()).Opened.ShouldHaveSingleItem().Id;

        var first = await _client.SendAsync(HttpMethod.Post.Authorized($"/api/v1/admin/alerts/{id}/acknowledge", _admin.AccessToken));
        var again = await _client.SendAsync(HttpMethod.Post.Authorized($"/api/v1/admin/alerts/{id}/acknowledge", _otherAdmin.AccessToken));

        first.StatusCode.ShouldBe(HttpStatusCode.OK);
        again.StatusCode.ShouldBe(HttpStatusCode.OK);
        var body = await first.JsonAsync();
        body.GetProperty("acknowledgedBy").GetGuid().ShouldBe(_admin.UserId);
        var acknowledgedAt = body.GetProperty("acknowledgedAt").GetString();
        acknowledgedAt.ShouldNotBeNull();
        var repeated = await again.JsonAsync();
        repeated.GetProperty("acknowledgedBy").GetGuid().ShouldBe(_admin.UserId);
        repeated.GetProperty("acknowledgedAt").GetString().ShouldBe(acknowledgedAt);
        (await Fresh.ScalarAsync<Guid>("select acknowledged_by from alerts where id = @id", new { id })).ShouldBe(_admin.UserId);
        (await ListAsync()).EnumerateArray().ShouldHaveSingleItem().GetProperty("acknowledgedBy").GetGuid().ShouldBe(_admin.UserId);

        var unknown = await _client.SendAsync(HttpMethod.Post.Authorized($"/api/v1/admin/alerts/{Guid.NewGuid()}/acknowledge", _admin.AccessToken));
        (await unknown.ShouldBeProblemAsync(HttpStatusCode.NotFound)).GetProperty("code").GetString().ShouldBe("not_found");
        await (await _client.SendAsync(HttpMethod.Post.Authorized($"/api/v1/admin/alerts/{id}/acknowledge", _user.AccessToken))).ShouldBeProblemAsync(HttpStatusCode.Forbidden);
        await (await _client.SendAsync(HttpMethod.Get.Authorized("/api/v1/admin/alerts", _user.AccessToken))).ShouldBeProblemAsync(HttpStatusCode.Forbidden);
        var badStatus = await _client.SendAsync(HttpMethod.Get.Authorized("/api/v1/admin/alerts?status=stale&limit=0", _admin.AccessToken));
        var errors = (await badStatus.ShouldBeProblemAsync(HttpStatusCode.BadRequest)).GetProperty("errors");
        (errors.TryGetProperty("status", out _), errors.TryGetProperty("limit", out _)).ShouldBe((true, true));
    }

    [Fact]
    public async Task Alerts_page_with_before_the_last_id_of_a_page()
    {
        var ids = Enumerable.Range(0, 5).Select(_ => Guid.NewGuid()).ToArray();
        for (var i = 0; i < ids.Length; i++)
        {
            // Two opened in the same instant: the id orders them.
            await Fresh.ExecuteAsync(
                "insert into alerts (id, scope, subject, opened_at, closed_at, window_count, threshold, peak_count) values (@id, 'ip', @subject, @at, @at, 9, 5, 9)",
                new { id = ids[i], subject = $"10.0.0.{i}", at = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).AddHours(Math.Min(i, 3)) });
        }

        var seen = new List<Guid>();
        string query = "?limit=2";
        for (var page = 0; page < 4; page++)
        {
            var items = (await ListAsync(query)).EnumerateArray().Select(a => a.GetProperty("id").GetGuid()).ToList();
            seen.AddRange(items);
            if (items.Count < 2)
            {
                break;
            }

            query = $"?limit=2&before={items[^1]}";
        }

        var newestFirst = ids.Select((id, i) => (id, at: Math.Min(i, 3))).OrderByDescending(a => a.at).ThenByDescending(a => a.id.ToString(), StringComparer.Ordinal).Select(a => a.id);
        seen.ShouldBe(newestFirst);
        var unknown = await _client.SendAsync(HttpMethod.Get.Authorized($"/api/v1/admin/alerts?before={Guid.NewGuid()}", _admin.AccessToken));
        (await unknown.ShouldBeProblemAsync(HttpStatusCode.NotFound)).GetProperty("code").GetString().ShouldBe("not_found");
    }

    [Fact]
    public async Task New_alert_reaches_an_admin_sse_subscriber_as_an_alert_event_and_not_a_user_subscriber()
    {
        using var adminStream = await SseReader.OpenAsync(_client, "/api/v1/events/stream?type=click", _admin.AccessToken);
        using var userStream = await SseReader.OpenAsync(_client, "/api/v1/events/stream", _user.AccessToken);
        await FailAsync(_user.Email, 3);

        var id = (await CheckAsync()).Opened.ShouldHaveSingleItem().Id;

        var (name, data) = await adminStream.NextAsync().WaitAsync(Patience);
        name.ShouldBe("alert");
        data.GetProperty("id").GetGuid().ShouldBe(id);
        data.GetProperty("scope").GetString().ShouldBe("account");
        data.GetProperty("email").GetString().ShouldBe(_user.Email);
        data.GetProperty("windowCount").GetInt64().ShouldBe(3);

        // The bus delivers in order: once the user's own later event arrives, an alert sent to them would have come first.
        var sentinel = Guid.NewGuid();
        (await _client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events", _user.AccessToken, new { id = sentinel, type = "page_view" }))).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var (userName, userData) = await userStream.NextAsync().WaitAsync(Patience);
        (userName, userData.GetProperty("id").GetGuid()).ShouldBe(("event", sentinel));
    }

    /// <summary>Reads an SSE response one event at a time: its name and JSON data.</summary>
    private sealed class SseReader : IDisposable
    {
        private readonly HttpResponseMessage _response;
        private readonly StreamReader _reader;

        private SseReader(HttpResponseMessage response, Stream body)
        {
            _response = response;
            _reader = new StreamReader(body, Encoding.UTF8);
        }

        public static async Task<SseReader> OpenAsync(HttpClient client, string path, string accessToken)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
            var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).WaitAsync(Patience);
            response.StatusCode.ShouldBe(HttpStatusCode.OK);
            var reader = new SseReader(response, await response.Content.ReadAsStreamAsync());
            (await reader.ReadLineAsync().WaitAsync(Patience)).ShouldBe(": connected");
            return reader;
        }

        public async Task<(string Name, JsonElement Data)> NextAsync()
        {
            string? name = null;
            while (true)
            {
                var line = await ReadLineAsync();
                if (line.StartsWith("event: ", StringComparison.Ordinal))
                {
                    name = line["event: ".Length..];
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal) && name is not null)
                {
                    return (name, JsonDocument.Parse(line["data: ".Length..]).RootElement);
                }
            }
        }

        private async Task<string> ReadLineAsync() => await _reader.ReadLineAsync() ?? throw new EndOfStreamException("The stream ended.");

        public void Dispose()
        {
            _reader.Dispose();
            _response.Dispose();
        }
    }

    /// <summary>The in-memory test server has no socket: let the test say which address a request comes from.</summary>
    private sealed class RemoteIpFromTestHeader : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((context, nextMiddleware) =>
            {
                if (context.Request.Headers.TryGetValue(RemoteIpHeader, out var ip))
                {
                    context.Connection.RemoteIpAddress = IPAddress.Parse(ip.ToString());
                }

                return nextMiddleware(context);
            });
            next(app);
        };
    }
}
