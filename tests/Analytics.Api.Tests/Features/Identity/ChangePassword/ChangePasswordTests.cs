using System.Net;
using Analytics.Api.Infrastructure.Security;
using Analytics.Api.Tests.Infrastructure;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Analytics.Api.Tests.Features.Identity.ChangePassword;

public sealed class ChangePasswordTests(TestDatabase database) : IAsyncDisposable
{
    private readonly ApiFactory _api = new(database);

    public ValueTask DisposeAsync() => _api.DisposeAsync();

    [Fact]
    public async Task Change_password_keeps_this_session_and_signs_out_every_other()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);
        var other = await (await client.LoginAsync(user.Email)).JsonAsync();
        var otherToken = other.GetProperty("accessToken").GetString()!;

        var response = await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/users/me/password", user.AccessToken, new { currentPassword = Accounts.Password, newPassword = "a brand new passphrase" }));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await response.JsonAsync()).GetProperty("otherSessionsRevoked").GetInt32().ShouldBe(1);
        (await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/auth/me", user.AccessToken))).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/auth/me", otherToken))).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await client.LoginAsync(user.Email)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await client.LoginAsync(user.Email, "a brand new passphrase")).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await database.ScalarAsync<long>("select count(*) from activity_log where user_id = @UserId and kind = 'password_changed'", new { user.UserId })).ShouldBe(1);
    }

    [Fact]
    public async Task A_password_changed_while_this_change_waits_is_not_overwritten()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);
        var theirs = await _api.Services.GetRequiredService<IPasswordHasher>().HashAsync("the other tab's passphrase", CancellationToken.None);

        // Another change of this account holds its row (as a password change does) and stores another hash.
        var change = await WhileTheAccountIsHeldAsync(user, "update users set password_hash = @Value where id = @UserId", theirs);

        (await (await change).ShouldBeProblemAsync(HttpStatusCode.BadRequest)).GetProperty("code").GetString().ShouldBe("wrong_password");
        (await database.ScalarAsync<string>("select password_hash from users where id = @UserId", new { user.UserId })).ShouldBe(theirs);
        (await client.LoginAsync(user.Email, "the other tab's passphrase")).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task A_session_ended_while_its_change_waits_changes_nothing()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);
        var hash = await database.ScalarAsync<string>("select password_hash from users where id = @UserId", new { user.UserId });

        var change = await WhileTheAccountIsHeldAsync(user, "update sessions set revoked_at = now(), revoked_reason = @Value where id = @SessionId", "password_changed");

        (await (await change).ShouldBeProblemAsync(HttpStatusCode.Unauthorized)).GetProperty("code").GetString().ShouldBe("session_ended");
        (await database.ScalarAsync<string>("select password_hash from users where id = @UserId", new { user.UserId })).ShouldBe(hash);
        (await client.LoginAsync(user.Email)).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    // Locks the account's row, sends a password change of the user's session, waits until it waits for that row, then
    // runs the statement in the lock's transaction and commits it; returns the change.
    private async Task<Task<HttpResponseMessage>> WhileTheAccountIsHeldAsync(SignedIn user, string statement, string value)
    {
        await using var holder = new NpgsqlConnection(database.ConnectionString);
        await holder.OpenAsync();
        await using var transaction = await holder.BeginTransactionAsync();
        await holder.ExecuteAsync("select 1 from users where id = @UserId for update", new { user.UserId }, transaction);

        var change = _api.CreateClient().SendAsync(HttpMethod.Post.Authorized("/api/v1/users/me/password", user.AccessToken, new { currentPassword = Accounts.Password, newPassword = "a brand new passphrase" }));
        await using (var watcher = new NpgsqlConnection(database.ConnectionString))
        {
            await watcher.OpenAsync();
            await LockWaits.WaitAsync(watcher, change, "from users where id = $1 for no key update");
        }

        await holder.ExecuteAsync(statement, new { user.UserId, user.SessionId, Value = value }, transaction);
        await transaction.CommitAsync();
        return change;
    }

    [Fact]
    public async Task Wrong_current_password_returns_400_and_changes_nothing()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);
        var hash = await database.ScalarAsync<string>("select password_hash from users where id = @UserId", new { user.UserId });

        var response = await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/users/me/password", user.AccessToken, new { currentPassword = "not my password", newPassword = "a brand new passphrase" }));

        (await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest)).GetProperty("code").GetString().ShouldBe("wrong_password");
        (await database.ScalarAsync<string>("select password_hash from users where id = @UserId", new { user.UserId })).ShouldBe(hash);
        var newest = await (await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/users/me/activity?limit=1", user.AccessToken))).JsonAsync();
        newest.GetProperty("items")[0].GetProperty("kind").GetString().ShouldBe("password_change_failed");
    }

    [Fact]
    public async Task A_new_password_that_is_the_addresss_local_part_is_400_as_at_registration()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);
        var localPart = user.Email.Split('@')[0];

        var response = await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/users/me/password", user.AccessToken, new { currentPassword = Accounts.Password, newPassword = localPart }));

        (await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest)).GetProperty("detail").GetString()!.ShouldContain("e-mail address");
        (await client.LoginAsync(user.Email)).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Guessing_the_current_password_is_throttled()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);

        for (var i = 0; i < 5; i++)
        {
            (await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/users/me/password", user.AccessToken, new { currentPassword = $"guess number {i}", newPassword = "a brand new passphrase" }))).StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        }

        await (await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/users/me/password", user.AccessToken, new { currentPassword = Accounts.Password, newPassword = "a brand new passphrase" }))).ShouldBeProblemAsync(HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task A_weak_new_password_returns_400_naming_the_field()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);

        var response = await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/users/me/password", user.AccessToken, new { currentPassword = Accounts.Password, newPassword = "qwertyuiop" }));

        (await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest)).GetProperty("errors").GetProperty("newPassword")[0].GetString()!.ShouldContain("commonly used");
    }
}
