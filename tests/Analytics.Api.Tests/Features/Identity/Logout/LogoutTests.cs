using System.Net;
using System.Net.Http.Json;
using Analytics.Api.Tests.Infrastructure;

namespace Analytics.Api.Tests.Features.Identity.Logout;

public sealed class LogoutTests(TestDatabase database)
{
    [Fact]
    public async Task Logout_ends_the_session_so_its_access_and_refresh_tokens_fail_on_the_next_request()
    {
        await using var api = new ApiFactory(database);
        var client = api.CreateClient();
        var user = await client.SignUpAsync(database);
        (await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/auth/me", user.AccessToken))).StatusCode.ShouldBe(HttpStatusCode.OK);

        var response = await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/auth/logout", user.AccessToken));

        response.StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await database.ScalarAsync<string>("select revoked_reason from sessions where id = @SessionId", new { user.SessionId })).ShouldBe("logout");
        (await database.ScalarAsync<long>("select count(*) from activity_log where user_id = @UserId and kind = 'logout'", new { user.UserId })).ShouldBe(1);
        await (await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/auth/me", user.AccessToken))).ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
        await (await client.PostAsJsonAsync(new Uri("/api/v1/auth/refresh", UriKind.Relative), new { user.RefreshToken })).ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Logout_on_one_node_takes_effect_on_another_node_that_holds_a_copy_of_the_session_check()
    {
        // Node B would keep its copy of the check for an hour: only the re-check message can end it there.
        await using var nodeA = new ApiFactory(database);
        await using var nodeB = new ApiFactory(database, new Dictionary<string, string?> { ["Jwt:SessionCheckLocalFor"] = "01:00:00" });
        var user = await nodeA.CreateClient().SignUpAsync(database);
        (await nodeB.CreateClient().SendAsync(HttpMethod.Get.Authorized("/api/v1/auth/me", user.AccessToken))).StatusCode.ShouldBe(HttpStatusCode.OK);

        (await nodeA.CreateClient().SendAsync(HttpMethod.Post.Authorized("/api/v1/auth/logout", user.AccessToken))).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        (await StatusOnNodeAsync(nodeB, user.AccessToken, HttpStatusCode.Unauthorized)).ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task A_role_change_on_one_node_refuses_the_old_token_on_another_node_that_holds_a_copy()
    {
        await using var nodeA = new ApiFactory(database);
        await using var nodeB = new ApiFactory(database, new Dictionary<string, string?> { ["Jwt:SessionCheckLocalFor"] = "01:00:00" });
        var admin = await nodeA.CreateClient().SignUpAdminAsync(database);
        var user = await nodeA.CreateClient().SignUpAsync(database);
        (await nodeB.CreateClient().SendAsync(HttpMethod.Get.Authorized("/api/v1/auth/me", user.AccessToken))).StatusCode.ShouldBe(HttpStatusCode.OK);

        (await nodeA.CreateClient().SendAsync(HttpMethod.Patch.Authorized($"/api/v1/admin/users/{user.UserId}", admin.AccessToken, new { role = "admin" }))).StatusCode.ShouldBe(HttpStatusCode.OK);

        (await StatusOnNodeAsync(nodeB, user.AccessToken, HttpStatusCode.Unauthorized)).ShouldBe(HttpStatusCode.Unauthorized);
    }

    // The message reaches other nodes just after the change commits (milliseconds); a few seconds bound the wait.
    private static async Task<HttpStatusCode> StatusOnNodeAsync(ApiFactory node, string accessToken, HttpStatusCode awaited)
    {
        var client = node.CreateClient();
        var status = HttpStatusCode.OK;
        for (var attempt = 0; attempt < 50 && status != awaited; attempt++)
        {
            if (attempt > 0)
            {
                await Task.Delay(100);
            }

            status = (await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/auth/me", accessToken))).StatusCode;
        }

        return status;
    }
}
