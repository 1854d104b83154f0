using System.Net;
using System.Net.Http.Json;
using Analytics.Api.Tests.Infrastructure;

namespace Analytics.Api.Tests.Features.Events;

public sealed class ApiKeysTests(TestDatabase database) : IAsyncDisposable
{
    private readonly ApiFactory _api = new(database);

    public ValueTask DisposeAsync() => _api.DisposeAsync();

    [Fact]
    public async Task Create_returns_the_key_once_stores_only_its_hash_and_lists_it_without_the_secret()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);

        var created = await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/api-keys", user.AccessToken, new { name = "web app" }));

        created.StatusCode.ShouldBe(HttpStatusCode.Created);
        var body = await created.JsonAsync();
        var key = body.GetProperty("key").GetString()!;
        key.ShouldMatch("^ak_[0-9A-Za-z]{12}_[0-9A-Za-z]{43}$");
        var id = Guid.Parse(body.GetProperty("id").GetString()!);
        (await database.ScalarAsync<int>("select octet_length(secret_hash) from api_keys where id = @id", new { id })).ShouldBe(32);
        var listed = await (await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/api-keys", user.AccessToken))).Content.ReadAsStringAsync();
        listed.ShouldContain("web app");
        listed.ShouldContain(key[..15]);
        listed.ShouldNotContain(key[16..]);
        var located = await client.SendAsync(HttpMethod.Get.Authorized(created.Headers.Location!.OriginalString, user.AccessToken));
        located.StatusCode.ShouldBe(HttpStatusCode.OK);
        var one = await located.JsonAsync();
        (one.GetProperty("id").GetGuid(), one.GetProperty("name").GetString(), one.GetProperty("revoked").GetBoolean()).ShouldBe((id, "web app", false));
        one.GetRawText().ShouldNotContain(key[16..]);
    }

    [Fact]
    public async Task A_user_holds_a_bounded_number_of_keys_and_a_revoked_one_frees_its_place()
    {
        await using var api = new ApiFactory(database, new Dictionary<string, string?> { ["Events:MaxApiKeysPerUser"] = "2" });
        var client = api.CreateClient();
        var user = await client.SignUpAsync(database);
        Task<HttpResponseMessage> CreateAsync(string name) => client.SendAsync(HttpMethod.Post.Authorized("/api/v1/api-keys", user.AccessToken, new { name }));

        var first = await (await CreateAsync("one")).JsonAsync();
        (await CreateAsync("two")).StatusCode.ShouldBe(HttpStatusCode.Created);
        var third = await CreateAsync("three");

        (await third.ShouldBeProblemAsync(HttpStatusCode.Conflict)).GetProperty("code").GetString().ShouldBe("too_many_api_keys");
        (await database.ScalarAsync<long>("select count(*) from api_keys where user_id = @UserId", new { user.UserId })).ShouldBe(2);
        (await client.SendAsync(HttpMethod.Delete.Authorized($"/api/v1/api-keys/{first.GetProperty("id").GetString()}", user.AccessToken))).IsSuccessStatusCode.ShouldBeTrue();
        (await CreateAsync("three")).StatusCode.ShouldBe(HttpStatusCode.Created);
    }

    [Fact]
    public async Task A_key_works_as_bearer_or_header_records_last_use_and_stops_after_revocation()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);
        var created = await (await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/api-keys", user.AccessToken, new { name = "mobile" }))).JsonAsync();
        var key = created.GetProperty("key").GetString()!;
        var id = Guid.Parse(created.GetProperty("id").GetString()!);

        (await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events", key, new { type = "page_view" }))).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var viaHeader = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/v1/events", UriKind.Relative)) { Content = JsonContent.Create(new { type = "page_view" }) };
        viaHeader.Headers.Add("X-Api-Key", key);
        (await client.SendAsync(viaHeader)).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        (await database.ScalarAsync<DateTime?>("select last_used_at from api_keys where id = @id", new { id })).ShouldNotBeNull();

        (await client.SendAsync(HttpMethod.Delete.Authorized($"/api/v1/api-keys/{id}", user.AccessToken))).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        HttpStatusCode status = HttpStatusCode.Accepted;
        for (var i = 0; i < 30 && status != HttpStatusCode.Unauthorized; i++)
        {
            await Task.Delay(250);
            status = (await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events", key, new { type = "page_view" }))).StatusCode;
        }

        status.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task The_keys_of_a_disabled_account_stop_working_and_work_again_when_it_is_enabled()
    {
        var client = _api.CreateClient();
        var admin = await client.SignUpAdminAsync(database);
        var user = await client.SignUpAsync(database);
        var key = (await (await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/api-keys", user.AccessToken, new { name = "app" }))).JsonAsync()).GetProperty("key").GetString()!;

        (await client.SendAsync(HttpMethod.Patch.Authorized($"/api/v1/admin/users/{user.UserId}", admin.AccessToken, new { status = "disabled" }))).StatusCode.ShouldBe(HttpStatusCode.OK);
        var refused = await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events", key, new { type = "page_view" }));
        (await refused.ShouldBeProblemAsync(HttpStatusCode.Unauthorized)).GetProperty("detail").GetString()!.ShouldContain("disabled");

        (await client.SendAsync(HttpMethod.Patch.Authorized($"/api/v1/admin/users/{user.UserId}", admin.AccessToken, new { status = "active" }))).StatusCode.ShouldBe(HttpStatusCode.OK);
        HttpStatusCode status = HttpStatusCode.Unauthorized;
        for (var i = 0; i < 30 && status != HttpStatusCode.Accepted; i++)
        {
            await Task.Delay(250);
            status = (await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events", key, new { type = "page_view" }))).StatusCode;
        }

        status.ShouldBe(HttpStatusCode.Accepted);
    }

    [Fact]
    public async Task Malformed_or_unknown_keys_are_401_with_a_problem_body()
    {
        var client = _api.CreateClient();

        foreach (var key in new[] { "ak_nope", "ak_AAAAAAAAAAAA_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" })
        {
            var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/v1/events", UriKind.Relative)) { Content = JsonContent.Create(new { type = "page_view" }) };
            request.Headers.Add("X-Api-Key", key);
            await (await client.SendAsync(request)).ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
        }
    }

    [Fact]
    public async Task Reading_or_revoking_another_users_key_is_404_and_keys_cannot_manage_keys()
    {
        var client = _api.CreateClient();
        var owner = await client.SignUpAsync(database);
        var other = await client.SignUpAsync(database);
        var created = await (await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/api-keys", owner.AccessToken, new { name = "mine" }))).JsonAsync();

        await (await client.SendAsync(HttpMethod.Delete.Authorized($"/api/v1/api-keys/{created.GetProperty("id").GetString()}", other.AccessToken))).ShouldBeProblemAsync(HttpStatusCode.NotFound);
        await (await client.SendAsync(HttpMethod.Get.Authorized($"/api/v1/api-keys/{created.GetProperty("id").GetString()}", other.AccessToken))).ShouldBeProblemAsync(HttpStatusCode.NotFound);
        (await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/api-keys", created.GetProperty("key").GetString()!))).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task A_key_is_a_credential_only_on_the_endpoints_that_accept_keys()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);
        var key = (await (await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/api-keys", user.AccessToken, new { name = "app" }))).JsonAsync()).GetProperty("key").GetString()!;

        foreach (var (path, asBearer) in new[] { ("/api/v1/auth/me", false), ("/api/v1/admin/dashboard", false), ("/api/v1/users/me/sessions", false), ("/api/v1/auth/me", true) })
        {
            var request = asBearer ? HttpMethod.Get.Authorized(path, key) : new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
            if (!asBearer)
            {
                request.Headers.Add("X-Api-Key", key);
            }

            var response = await client.SendAsync(request);
            await response.ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
            response.Headers.WwwAuthenticate.ToString().ShouldBe("Bearer");
        }

        // The same request with the user's token instead, and the key where keys are accepted, both pass.
        (await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/auth/me", user.AccessToken))).StatusCode.ShouldBe(HttpStatusCode.OK);
        var accepted = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/v1/events", UriKind.Relative)) { Content = JsonContent.Create(new { type = "page_view" }) };
        accepted.Headers.Add("X-Api-Key", key);
        (await client.SendAsync(accepted)).StatusCode.ShouldBe(HttpStatusCode.Accepted);
    }
}
