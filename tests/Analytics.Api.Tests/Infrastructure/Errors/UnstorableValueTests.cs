using System.Net;

namespace Analytics.Api.Tests.Infrastructure.Errors;

/// <summary>
/// A value PostgreSQL refuses (here the NUL character, which its text columns cannot hold) is the client's: a 400
/// that says so, not a 500, on every write that no validator guards, and nothing of it is stored.
/// </summary>
public sealed class UnstorableValueTests(TestDatabase database) : IAsyncDisposable
{
    private readonly ApiFactory _api = new(database);

    public ValueTask DisposeAsync() => _api.DisposeAsync();

    [Fact]
    public async Task A_nul_character_in_free_text_is_a_400_and_stores_nothing()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);
        var email = $"nul-{Guid.NewGuid():N}@example.com";

        var register = await client.RegisterAsync(email, extra: new { displayName = "Ann\u0000" });
        var profile = await client.SendAsync(HttpMethod.Patch.Authorized("/api/v1/users/me", user.AccessToken, new { displayName = "Ann\u0000" }));
        var key = await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/api-keys", user.AccessToken, new { name = "app\u0000" }));

        // A display name is refused by its rules (no control characters); the key's name by PostgreSQL.
        foreach (var response in new[] { register, profile })
        {
            var problem = await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest);
            problem.GetProperty("errors").GetProperty("displayName")[0].GetString()!.ShouldContain("control characters");
        }

        var refused = await key.ShouldBeProblemAsync(HttpStatusCode.BadRequest);
        refused.GetProperty("title").GetString().ShouldBe("A value could not be stored.");
        refused.GetProperty("detail").GetString()!.ShouldContain("U+0000");

        (await database.ScalarAsync<long>("select count(*) from users where email = @email", new { email })).ShouldBe(0);
        (await database.ScalarAsync<string?>("select display_name from users where id = @UserId", new { user.UserId })).ShouldBeNull();
        (await database.ScalarAsync<long>("select count(*) from api_keys where user_id = @UserId", new { user.UserId })).ShouldBe(0);
    }
}
