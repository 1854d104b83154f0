using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Analytics.Api.Features.Seed;

/// <summary>
/// The small demo data set: ten users across every age band and gender, feature clicks and other events over the
/// last <see cref="Days"/> days, sign-ins and failed sign-ins. Everything that must not be stored twice has a stable
/// key: e-mails for users, ids derived from an index for events, a <c>seed</c> key in the details of activity rows.
/// Times are relative to the first run's clock; a later run finds the keys taken and adds nothing.
/// </summary>
internal static class DemoData
{
    public const int Days = 60;
    public const int FeatureClicks = 220;
    public const string DefaultAdminEmail = "admin@example.com";
    public const string Password = "analytics-demo-password";
    public const string ApiKeyName = "demo";

    /// <summary>Marks demo events (in <c>properties</c>) and demo activity rows (in <c>details</c>).</summary>
    public const string Marker = "seed";

    public sealed record User(string Email, string DisplayName, short Age, string Gender, int RegisteredDaysAgo);

    public static readonly IReadOnlyList<User> Users =
    [
        new("demo-01@example.com", "Alice Demo", 16, "female", 58),
        new("demo-02@example.com", "Bruno Demo", 17, "male", 55),
        new("demo-03@example.com", "Charlie Demo", 15, "other", 50),
        new("demo-04@example.com", "Dana Demo", 24, "female", 44),
        new("demo-05@example.com", "Emil Demo", 31, "male", 37),
        new("demo-06@example.com", "Frankie Demo", 38, "other", 30),
        new("demo-07@example.com", "Grace Demo", 45, "female", 21),
        new("demo-08@example.com", "Hugo Demo", 52, "male", 12),
        new("demo-09@example.com", "Ivy Demo", 67, "other", 5),
        new("demo-10@example.com", "Jules Demo", 29, "female", 2),
    ];

    /// <summary>Eight features with uneven popularity, so the bar chart has a shape.</summary>
    public static readonly IReadOnlyList<(string Name, int Weight)> Features =
    [
        ("search", 30), ("dashboard_filters", 22), ("export_csv", 16), ("share_report", 12),
        ("dark_mode", 9), ("notifications", 6), ("invite_teammate", 3), ("date_picker", 2),
    ];

    public static readonly string[] Pages = ["/", "/pricing", "/docs", "/dashboard", "/settings", "/reports", "/blog/launch", "/signup"];
    public static readonly string[] ClickNames = ["signup_button", "buy_now", "menu_open", "play_video", "add_to_cart"];
    public static readonly string[] CustomNames = ["purchase", "trial_started", "onboarding_step", "error_shown"];
    public static readonly (string Device, string Browser, string Os)[] Devices =
    [
        ("desktop", "Chrome", "Windows"), ("desktop", "Firefox", "Linux"), ("desktop", "Safari", "macOS"),
        ("mobile", "Safari", "iOS"), ("mobile", "Chrome", "Android"), ("tablet", "Safari", "iOS"), ("desktop", "Edge", "Windows"),
    ];

    private const string UserAgent = "Mozilla/5.0 (X11; Linux x86_64) AnalyticsSeed/1.0";

    public sealed record EventRow(Guid Id, DateTime OccurredAt, string Type, string? Name, Guid? UserId, Guid? ApiKeyId, string? ExternalUserId, string? Url, string Device, string Browser, string Os);

    public sealed record ActivityRow(Guid? UserId, string Kind, DateTime OccurredAt, IPAddress Ip, string UserAgent, string Details);

    /// <summary>A seeded account as stored: its id and since when it may have done anything.</summary>
    public sealed record Account(Guid Id, DateTimeOffset Since);

    /// <summary>
    /// The events: 220 feature clicks, page views and clicks by the demo users, and page views and custom events
    /// sent with the API key (some in the last 24 hours, so the top-clients view has data by default).
    /// </summary>
    public static List<EventRow> Events(IReadOnlyList<Account> users, Guid apiKeyId, DateTimeOffset now)
    {
        var random = new Random(20_250_601);
        var rows = new List<EventRow>();
        var index = 0;
        for (var i = 0; i < FeatureClicks; i++)
        {
            var user = users[PickUser(random, users.Count)];
            rows.Add(Event(index++, random, At(random, user.Since, now), "feature_click", PickWeighted(random, Features), user.Id, null, null, "/dashboard"));
        }

        for (var i = 0; i < 160; i++)
        {
            var user = users[PickUser(random, users.Count)];
            rows.Add(Event(index++, random, At(random, user.Since, now), "page_view", null, user.Id, null, null, Pages[random.Next(Pages.Length)]));
        }

        for (var i = 0; i < 60; i++)
        {
            var user = users[PickUser(random, users.Count)];
            rows.Add(Event(index++, random, At(random, user.Since, now), "click", ClickNames[random.Next(ClickNames.Length)], user.Id, null, null, Pages[random.Next(Pages.Length)]));
        }

        for (var i = 0; i < 100; i++)
        {
            var since = i % 8 == 0 ? now.AddHours(-23) : now.AddDays(-Days);
            var custom = random.Next(10) < 4;
            rows.Add(Event(
                index++, random, At(random, since, now), custom ? "custom" : "page_view", custom ? CustomNames[random.Next(CustomNames.Length)] : null,
                null, apiKeyId, $"customer-{random.Next(1, 40):D3}", Pages[random.Next(Pages.Length)]));
        }

        return rows;
    }

    /// <summary>
    /// Registrations, sign-ins (a few per user, the latest within the last week for most) and failed sign-ins
    /// (wrong passwords and unknown e-mails, some in the last 24 hours).
    /// </summary>
    public static List<ActivityRow> Activity(IReadOnlyList<Account> users, Account admin, DateTimeOffset now)
    {
        var random = new Random(20_250_602);
        var rows = new List<ActivityRow>();
        for (var u = 0; u < users.Count; u++)
        {
            var user = users[u];
            var email = Users[u].Email;
            rows.Add(Row(user.Id, "registered", user.Since, u, $"demo:registered:{email}"));
            var logins = 3 + (u % 4);
            for (var j = 0; j < logins; j++)
            {
                // The last sign-in of most users falls in the last week, so the dashboard has active users.
                var at = j == logins - 1 && u % 5 != 4 ? At(random, Later(now.AddDays(-6), user.Since), now) : At(random, user.Since, now);
                rows.Add(Row(user.Id, "login", at, u, $"demo:login:{email}:{j}"));
            }

            if (u % 3 == 0)
            {
                for (var j = 0; j < 3; j++)
                {
                    var at = j == 0 ? At(random, Later(now.AddHours(-20), user.Since), now) : At(random, user.Since, now);
                    rows.Add(Row(user.Id, "login_failed", at, u, $"demo:failed:{email}:{j}", "wrong_password"));
                }
            }
        }

        for (var j = 0; j < 8; j++)
        {
            rows.Add(Row(admin.Id, "login", At(random, admin.Since, now), 10, $"demo:login:admin:{j}"));
        }

        for (var j = 0; j < 3; j++)
        {
            var at = j == 0 ? now.AddHours(-3) : At(random, now.AddDays(-Days), now);
            rows.Add(new ActivityRow(null, "login_failed", at.UtcDateTime, Ip(20 + j), UserAgent, Details($"demo:unknown:{j}", new { reason = "unknown_email", email = $"nobody-{j}@example.com" })));
        }

        return rows;
    }

    /// <summary>A stable id for the n-th demo event: the same on every run, so <c>event_ids</c> refuses a second copy.</summary>
    public static Guid EventId(int index)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.ASCII.GetBytes($"analytics-seed:demo-event:{index}"), hash);
        hash[6] = (byte)((hash[6] & 0x0F) | 0x80);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash[..16], bigEndian: true);
    }

    private static EventRow Event(int index, Random random, DateTimeOffset at, string type, string? name, Guid? userId, Guid? apiKeyId, string? externalUserId, string url)
    {
        var (device, browser, os) = Devices[random.Next(Devices.Length)];
        return new EventRow(EventId(index), at.UtcDateTime, type, name, userId, apiKeyId, externalUserId, $"https://app.example.com{url}", device, browser, os);
    }

    private static ActivityRow Row(Guid? userId, string kind, DateTimeOffset at, int client, string key, string? reason = null) =>
        new(userId, kind, at.UtcDateTime, Ip(client), UserAgent, reason is null ? Details(key, new { }) : Details(key, new { reason }));

    private static string Details(string key, object extra)
    {
        var details = JsonSerializer.SerializeToNode(extra)!.AsObject();
        details[Marker] = key;
        return details.ToJsonString();
    }

    // Documentation addresses (TEST-NET-3), one per client.
    private static IPAddress Ip(int client) => IPAddress.Parse($"203.0.113.{10 + client}");

    private static DateTimeOffset Later(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private static DateTimeOffset At(Random random, DateTimeOffset from, DateTimeOffset to)
    {
        var start = Later(from, to.AddDays(-Days));
        var span = (to - start).Ticks;
        return span <= 0 ? to : start.AddTicks((long)(random.NextDouble() * span));
    }

    // Earlier users are busier: weight n - i.
    private static int PickUser(Random random, int count)
    {
        var ticket = random.Next(count * (count + 1) / 2);
        for (var i = 0; i < count; i++)
        {
            ticket -= count - i;
            if (ticket < 0)
            {
                return i;
            }
        }

        return count - 1;
    }

    private static string PickWeighted(Random random, IReadOnlyList<(string Name, int Weight)> choices)
    {
        var ticket = random.Next(choices.Sum(c => c.Weight));
        foreach (var (name, weight) in choices)
        {
            ticket -= weight;
            if (ticket < 0)
            {
                return name;
            }
        }

        return choices[^1].Name;
    }
}
