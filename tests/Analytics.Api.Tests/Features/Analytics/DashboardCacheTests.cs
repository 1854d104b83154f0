using System.Net;
using System.Text.Json;
using Analytics.Api.Tests.Infrastructure;

namespace Analytics.Api.Tests.Features.Analytics;

/// <summary>
/// Two nodes sharing Redis (a database of its own, so other tests' registrations do not bump the dashboard's
/// generation) and a PostgreSQL database of their own.
/// </summary>
public sealed class DashboardCacheTests(TestDatabase database) : IAsyncLifetime
{
    private ApiFactory _a = null!;
    private ApiFactory _b = null!;
    private HttpClient _onA = null!;
    private HttpClient _onB = null!;
    private SignedIn _admin = null!;

    public async ValueTask InitializeAsync()
    {
        var fresh = await database.CreateDatabaseAsync("dashboard_cache");
        var redis = TestRedis.ConnectionString + ",defaultDatabase=7";
        var settings = new Dictionary<string, string?> { ["ConnectionStrings:Postgres"] = fresh, ["Redis:ConnectionString"] = redis, ["Dashboard:LocalCacheFor"] = "00:00:01" };
        _a = new ApiFactory(database, settings);
        _b = new ApiFactory(database, settings);
        _onA = _a.CreateClient();
        _onB = _b.CreateClient();

        // Registering bumps the generation, so entries of earlier runs against this Redis are unreachable.
        _admin = await _onA.SignUpAdminAsync(database.On(fresh));
    }

    public async ValueTask DisposeAsync()
    {
        _onA.Dispose();
        _onB.Dispose();
        await _a.DisposeAsync();
        await _b.DisposeAsync();
    }

    private async Task<JsonElement> DashboardAsync(HttpClient node)
    {
        var response = await node.SendAsync(HttpMethod.Get.Authorized("/api/v1/admin/dashboard?preset=30d", _admin.AccessToken));
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/json");
        return await response.JsonAsync();
    }

    private static long TotalUsers(JsonElement body) => body.GetProperty("totals").GetProperty("totalUsers").GetProperty("value").GetInt64();

    [Fact]
    public async Task An_answer_is_computed_once_for_all_nodes_and_a_change_shows_at_once_where_it_was_made_and_within_a_second_elsewhere()
    {
        var first = await DashboardAsync(_onA);
        var onB = await DashboardAsync(_onB);
        var againOnB = await DashboardAsync(_onB);
        var againOnA = await DashboardAsync(_onA);
        first.GetProperty("fromCache").GetBoolean().ShouldBeFalse();
        (onB.GetProperty("fromCache").GetBoolean(), againOnB.GetProperty("fromCache").GetBoolean(), againOnA.GetProperty("fromCache").GetBoolean()).ShouldBe((true, true, true));
        onB.GetProperty("computedAt").GetString().ShouldBe(first.GetProperty("computedAt").GetString());
        againOnB.GetRawText().ShouldBe(onB.GetRawText());

        (await _onA.RegisterAsync(Accounts.NewEmail())).StatusCode.ShouldBe(HttpStatusCode.Created);
        var afterOnA = await DashboardAsync(_onA);
        afterOnA.GetProperty("fromCache").GetBoolean().ShouldBeFalse();
        TotalUsers(afterOnA).ShouldBe(TotalUsers(first) + 1);

        // Node B may reuse what it read for up to Dashboard:LocalCacheFor (1 s), never longer.
        await Task.Delay(TimeSpan.FromMilliseconds(1100));
        TotalUsers(await DashboardAsync(_onB)).ShouldBe(TotalUsers(first) + 1);
    }
}
