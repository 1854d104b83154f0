using System.Net;
using System.Net.Http.Json;
using Analytics.Api.Tests.Infrastructure;

namespace Analytics.Api.Tests.Features.Identity.UpdateProfile;

public sealed class UpdateProfileTests(TestDatabase database) : IAsyncDisposable
{
    private readonly ApiFactory _api = new(database);

    public ValueTask DisposeAsync() => _api.DisposeAsync();

    [Fact]
    public async Task Patch_changes_only_the_fields_sent_and_records_which()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database, profile: new { displayName = "Before", age = 30, gender = "male" });

        var response = await client.SendAsync(HttpMethod.Patch.Authorized("/api/v1/users/me", user.AccessToken, new { displayName = "After", gender = "other" }));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var body = (await response.JsonAsync()).GetProperty("user");
        body.GetProperty("displayName").GetString().ShouldBe("After");
        body.GetProperty("gender").GetString().ShouldBe("other");
        body.GetProperty("age").GetInt32().ShouldBe(30);
        (await database.ScalarAsync<string>("select details->>'fields' from activity_log where user_id = @UserId and kind = 'profile_updated'", new { user.UserId })).ShouldBe("""["displayName", "gender"]""");
    }

    [Fact]
    public async Task A_name_of_whitespace_clears_it_control_characters_and_an_empty_patch_are_400()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database, profile: new { displayName = "Before" });

        var cleared = await client.SendAsync(HttpMethod.Patch.Authorized("/api/v1/users/me", user.AccessToken, new { displayName = "\u00a0 \u2003" }));
        var forged = await client.SendAsync(HttpMethod.Patch.Authorized("/api/v1/users/me", user.AccessToken, new { displayName = "Bob\nAdmin" }));
        var empty = await client.SendAsync(HttpMethod.Patch.Authorized("/api/v1/users/me", user.AccessToken, new { }));

        cleared.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await cleared.JsonAsync()).GetProperty("user").GetProperty("displayName").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.Null);
        (await forged.ShouldBeProblemAsync(HttpStatusCode.BadRequest)).GetProperty("errors").GetProperty("displayName")[0].GetString()!.ShouldContain("control characters");
        (await empty.ShouldBeProblemAsync(HttpStatusCode.BadRequest)).GetProperty("errors").GetProperty("body")[0].GetString()!.ShouldContain("at least one");
        (await database.ScalarAsync<string?>("select display_name from users where id = @UserId", new { user.UserId })).ShouldBeNull();
        (await database.ScalarAsync<long>("select count(*) from activity_log where user_id = @UserId and kind = 'profile_updated'", new { user.UserId })).ShouldBe(1);
    }

    [Fact]
    public async Task Changing_the_email_waits_for_confirmation_from_the_new_address()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);
        var newEmail = Accounts.NewEmail("moved");

        var response = await client.SendAsync(HttpMethod.Patch.Authorized("/api/v1/users/me", user.AccessToken, new { email = newEmail }));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var body = await response.JsonAsync();
        body.GetProperty("user").GetProperty("email").GetString().ShouldBe(user.Email);
        body.GetProperty("pendingEmail").GetString().ShouldBe(newEmail);
        var (_, code) = await database.ActivationMailAsync(newEmail);
        (await client.PostAsJsonAsync(new Uri("/api/v1/auth/activate", UriKind.Relative), new { email = newEmail, code })).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await database.ScalarAsync<string>("select email from users where id = @UserId", new { user.UserId })).ShouldBe(newEmail);
        (await client.LoginAsync(newEmail)).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Sending_the_current_address_withdraws_a_change_awaiting_confirmation()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);
        var typo = Accounts.NewEmail("typo");
        (await client.SendAsync(HttpMethod.Patch.Authorized("/api/v1/users/me", user.AccessToken, new { email = typo }))).StatusCode.ShouldBe(HttpStatusCode.OK);
        var (_, code) = await database.ActivationMailAsync(typo);

        var response = await client.SendAsync(HttpMethod.Patch.Authorized("/api/v1/users/me", user.AccessToken, new { email = user.Email.ToUpperInvariant() }));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await response.JsonAsync()).GetProperty("pendingEmail").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.Null);
        // Whoever owns the mistyped address can no longer move the account to it.
        (await client.PostAsJsonAsync(new Uri("/api/v1/auth/activate", UriKind.Relative), new { email = typo, code })).StatusCode.ShouldBe(HttpStatusCode.Conflict);
        (await database.ScalarAsync<string>("select email from users where id = @UserId", new { user.UserId })).ShouldBe(user.Email);
        (await database.ScalarAsync<string?>("select pending_email from users where id = @UserId", new { user.UserId })).ShouldBeNull();
    }

    [Fact]
    public async Task Changing_to_an_email_another_account_uses_returns_409()
    {
        var client = _api.CreateClient();
        var other = await client.SignUpAsync(database);
        var user = await client.SignUpAsync(database);

        var response = await client.SendAsync(HttpMethod.Patch.Authorized("/api/v1/users/me", user.AccessToken, new { email = other.Email }));

        await response.ShouldBeProblemAsync(HttpStatusCode.Conflict);
        (await database.ScalarAsync<string?>("select pending_email from users where id = @UserId", new { user.UserId })).ShouldBeNull();
    }

    [Fact]
    public async Task E_mail_changes_are_throttled_per_account()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);

        for (var i = 0; i < 3; i++)
        {
            (await client.SendAsync(HttpMethod.Patch.Authorized("/api/v1/users/me", user.AccessToken, new { email = Accounts.NewEmail("change") }))).StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        var target = Accounts.NewEmail("change");
        await (await client.SendAsync(HttpMethod.Patch.Authorized("/api/v1/users/me", user.AccessToken, new { email = target }))).ShouldBeProblemAsync(HttpStatusCode.TooManyRequests);
        (await database.ScalarAsync<long>("select count(*) from outbox where recipient = @target", new { target })).ShouldBe(0);
    }

    [Fact]
    public async Task Invalid_fields_return_400_and_change_nothing()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database, profile: new { displayName = "Kept" });

        var response = await client.SendAsync(HttpMethod.Patch.Authorized("/api/v1/users/me", user.AccessToken, new { displayName = new string('x', 101), age = 200, gender = "female, other" }));

        var errors = (await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest)).GetProperty("errors");
        errors.TryGetProperty("displayName", out _).ShouldBeTrue();
        errors.TryGetProperty("age", out _).ShouldBeTrue();
        errors.GetProperty("gender")[0].GetString()!.ShouldContain("male, female or other");
        (await database.ScalarAsync<string>("select display_name from users where id = @UserId", new { user.UserId })).ShouldBe("Kept");
    }
}
