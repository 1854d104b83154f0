using System.Net;
using Analytics.Api.Tests.Infrastructure;

namespace Analytics.Api.Tests.Features.Identity.Sessions;

public sealed class SessionsTests(TestDatabase database) : IAsyncDisposable
{
    private readonly ApiFactory _api = new(database);

    public ValueTask DisposeAsync() => _api.DisposeAsync();

    [Fact]
    public async Task List_shows_live_sessions_and_marks_the_current_one()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);
        await client.LoginAsync(user.Email, extra: new { countryCode = "DE" });

        var response = await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/users/me/sessions", user.AccessToken));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var sessions = (await response.JsonAsync()).EnumerateArray().ToList();
        sessions.Count.ShouldBe(2);
        sessions.Single(s => s.GetProperty("current").GetBoolean()).GetProperty("id").GetString().ShouldBe(user.SessionId.ToString());
        sessions.Single(s => !s.GetProperty("current").GetBoolean()).GetProperty("countryCode").GetString().ShouldBe("DE");
    }

    [Fact]
    public async Task Revoking_one_of_my_sessions_ends_it_and_its_tokens()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);
        var other = await (await client.LoginAsync(user.Email)).JsonAsync();
        var otherId = other.GetProperty("sessionId").GetString()!;

        var response = await client.SendAsync(HttpMethod.Delete.Authorized($"/api/v1/users/me/sessions/{otherId}", user.AccessToken));

        response.StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/auth/me", other.GetProperty("accessToken").GetString()!))).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await database.ScalarAsync<string>("select revoked_reason from sessions where id = @id", new { id = Guid.Parse(otherId) })).ShouldBe("revoked_by_user");

        // Again: still 204, and the activity shows one revocation.
        (await client.SendAsync(HttpMethod.Delete.Authorized($"/api/v1/users/me/sessions/{otherId}", user.AccessToken))).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await database.ScalarAsync<long>("select count(*) from activity_log where user_id = @UserId and kind = 'session_revoked'", new { user.UserId })).ShouldBe(1);
    }

    [Fact]
    public async Task Revoking_another_users_session_is_404_and_leaves_it_alive()
    {
        var client = _api.CreateClient();
        var victim = await client.SignUpAsync(database);
        var attacker = await client.SignUpAsync(database);

        var response = await client.SendAsync(HttpMethod.Delete.Authorized($"/api/v1/users/me/sessions/{victim.SessionId}", attacker.AccessToken));

        await response.ShouldBeProblemAsync(HttpStatusCode.NotFound);
        (await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/auth/me", victim.AccessToken))).StatusCode.ShouldBe(HttpStatusCode.OK);
    }
}
