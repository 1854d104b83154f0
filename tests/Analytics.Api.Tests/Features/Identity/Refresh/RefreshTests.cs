using System.Net;
using System.Net.Http.Json;
using Analytics.Api.Tests.Infrastructure;

namespace Analytics.Api.Tests.Features.Identity.Refresh;

public sealed class RefreshTests(TestDatabase database)
{
    private static Task<HttpResponseMessage> RefreshAsync(HttpClient client, string refreshToken) =>
        client.PostAsJsonAsync(new Uri("/api/v1/auth/refresh", UriKind.Relative), new { refreshToken });

    [Fact]
    public async Task Refresh_rotates_the_pair_and_both_new_tokens_work()
    {
        await using var api = new ApiFactory(database);
        var client = api.CreateClient();
        var user = await client.SignUpAsync(database);

        var response = await RefreshAsync(client, user.RefreshToken);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var pair = await response.JsonAsync();
        var refresh = pair.GetProperty("refreshToken").GetString()!;
        refresh.ShouldNotBe(user.RefreshToken);
        (await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/auth/me", pair.GetProperty("accessToken").GetString()!))).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await RefreshAsync(client, refresh)).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await database.ScalarAsync<long>("select count(*) from refresh_tokens where session_id = @SessionId and rotated_at is not null", new { user.SessionId })).ShouldBe(2);
    }

    [Fact]
    public async Task Reusing_a_spent_token_after_the_grace_window_revokes_the_session_and_all_its_tokens()
    {
        await using var api = new ApiFactory(database, new Dictionary<string, string?> { ["Jwt:RefreshReuseGrace"] = "00:00:00" });
        var client = api.CreateClient();
        var user = await client.SignUpAsync(database);
        var rotated = await (await RefreshAsync(client, user.RefreshToken)).JsonAsync();

        var reuse = await RefreshAsync(client, user.RefreshToken);

        (await reuse.ShouldBeProblemAsync(HttpStatusCode.Unauthorized)).GetProperty("code").GetString().ShouldBe("refresh_token_reused");
        (await database.ScalarAsync<string>("select revoked_reason from sessions where id = @SessionId", new { user.SessionId })).ShouldBe("token_reuse");
        (await database.ScalarAsync<long>("select count(*) from activity_log where user_id = @UserId and kind = 'token_reuse_detected'", new { user.UserId })).ShouldBe(1);
        (await RefreshAsync(client, rotated.GetProperty("refreshToken").GetString()!)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/auth/me", rotated.GetProperty("accessToken").GetString()!))).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Reusing_a_spent_token_within_the_grace_window_returns_a_working_pair()
    {
        await using var api = new ApiFactory(database, new Dictionary<string, string?> { ["Jwt:RefreshReuseGrace"] = "00:01:00" });
        var client = api.CreateClient();
        var user = await client.SignUpAsync(database);
        await RefreshAsync(client, user.RefreshToken);

        var again = await RefreshAsync(client, user.RefreshToken);

        again.StatusCode.ShouldBe(HttpStatusCode.OK);
        var pair = await again.JsonAsync();
        (await RefreshAsync(client, pair.GetProperty("refreshToken").GetString()!)).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await database.ScalarAsync<DateTime?>("select revoked_at from sessions where id = @SessionId", new { user.SessionId })).ShouldBeNull();
    }

    [Fact]
    public async Task A_spent_token_is_exchanged_again_only_once_within_the_grace_window()
    {
        await using var api = new ApiFactory(database, new Dictionary<string, string?> { ["Jwt:RefreshReuseGrace"] = "00:01:00" });
        var client = api.CreateClient();
        var user = await client.SignUpAsync(database);
        await RefreshAsync(client, user.RefreshToken);
        var retried = await (await RefreshAsync(client, user.RefreshToken)).JsonAsync();

        // A third holder of the token (it leaked): replaying it again would grow another live branch of the session.
        var replay = await RefreshAsync(client, user.RefreshToken);

        (await replay.ShouldBeProblemAsync(HttpStatusCode.Unauthorized)).GetProperty("code").GetString().ShouldBe("refresh_token_reused");
        (await database.ScalarAsync<string>("select revoked_reason from sessions where id = @SessionId", new { user.SessionId })).ShouldBe("token_reuse");
        (await RefreshAsync(client, retried.GetProperty("refreshToken").GetString()!)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await database.ScalarAsync<long>("select count(*) from refresh_tokens where session_id = @SessionId", new { user.SessionId })).ShouldBe(3);
    }

    [Fact]
    public async Task Two_tabs_refreshing_the_same_token_at_once_both_keep_working_sessions()
    {
        await using var api = new ApiFactory(database, new Dictionary<string, string?> { ["Jwt:RefreshReuseGrace"] = "00:01:00" });
        var client = api.CreateClient();
        var user = await client.SignUpAsync(database);

        var both = await Task.WhenAll(RefreshAsync(client, user.RefreshToken), RefreshAsync(client, user.RefreshToken));

        both.ShouldAllBe(r => r.StatusCode == HttpStatusCode.OK);
        foreach (var response in both)
        {
            var next = (await response.JsonAsync()).GetProperty("refreshToken").GetString()!;
            (await RefreshAsync(client, next)).StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        (await database.ScalarAsync<DateTime?>("select revoked_at from sessions where id = @SessionId", new { user.SessionId })).ShouldBeNull();
    }

    [Fact]
    public async Task Unknown_refresh_token_is_401_and_missing_one_is_400()
    {
        await using var api = new ApiFactory(database);
        var client = api.CreateClient();

        await (await RefreshAsync(client, "no-such-token")).ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
        await (await RefreshAsync(client, "")).ShouldBeProblemAsync(HttpStatusCode.BadRequest);
    }
}
