using System.Net;
using System.Net.Http.Json;
using Analytics.Api.Infrastructure.Activity;
using Analytics.Api.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Analytics.Api.Tests.Features.Users;

public sealed class AdminUsersTests(TestDatabase database) : IAsyncDisposable
{
    private readonly ApiFactory _api = new(database);

    public ValueTask DisposeAsync() => _api.DisposeAsync();

    [Fact]
    public async Task An_id_in_the_path_that_is_not_a_uuid_is_a_field_error()
    {
        var client = _api.CreateClient();
        var admin = await client.SignUpAdminAsync(database);

        foreach (var (method, path) in new[] { (HttpMethod.Get, "/api/v1/admin/users/123"), (HttpMethod.Patch, "/api/v1/admin/users/123"), (HttpMethod.Get, "/api/v1/admin/users/123/activity"), (HttpMethod.Delete, "/api/v1/users/me/sessions/123"), (HttpMethod.Delete, "/api/v1/api-keys/123"), (HttpMethod.Post, "/api/v1/admin/alerts/123/acknowledge") })
        {
            var request = method.Authorized(path, admin.AccessToken, method == HttpMethod.Patch ? new { role = "user" } : null);
            var problem = await (await client.SendAsync(request)).ShouldBeProblemAsync(HttpStatusCode.BadRequest);
            problem.GetProperty("errors").GetProperty("id")[0].GetString().ShouldBe("'123' is not a UUID.", $"{method} {path}");
        }
    }

    [Fact]
    public async Task Admin_routes_are_403_for_users_and_401_without_a_token()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);

        await (await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/admin/users", user.AccessToken))).ShouldBeProblemAsync(HttpStatusCode.Forbidden);
        await (await client.GetAsync(new Uri("/api/v1/admin/users", UriKind.Relative))).ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task List_filters_by_email_role_and_status_and_pages_with_a_cursor()
    {
        var client = _api.CreateClient();
        var admin = await client.SignUpAdminAsync(database);
        var tag = Guid.NewGuid().ToString("N")[..8];
        for (var i = 0; i < 5; i++)
        {
            await client.SignUpAsync(database, $"list-{tag}-{i}@example.com");
        }

        await client.RegisterAsync($"list-{tag}-pending@example.com");

        var first = await (await client.SendAsync(HttpMethod.Get.Authorized($"/api/v1/admin/users?email=list-{tag}&status=active&limit=3", admin.AccessToken))).JsonAsync();
        var cursor = first.GetProperty("nextCursor").GetString()!;
        var second = await (await client.SendAsync(HttpMethod.Get.Authorized($"/api/v1/admin/users?email=list-{tag}&status=active&limit=3&cursor={cursor}", admin.AccessToken))).JsonAsync();

        var emails = first.GetProperty("items").EnumerateArray().Concat(second.GetProperty("items").EnumerateArray())
            .Select(u => u.GetProperty("user").GetProperty("email").GetString()).ToList();
        emails.ShouldBe(Enumerable.Range(0, 5).Reverse().Select(i => $"list-{tag}-{i}@example.com"));
        second.GetProperty("nextCursor").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.Null);
        var pending = await (await client.SendAsync(HttpMethod.Get.Authorized($"/api/v1/admin/users?email=list-{tag}&status=pending", admin.AccessToken))).JsonAsync();
        pending.GetProperty("items").GetArrayLength().ShouldBe(1);
        var anyCase = await (await client.SendAsync(HttpMethod.Get.Authorized($"/api/v1/admin/users?email=LIST-{tag.ToUpperInvariant()}-3@EXAMPLE", admin.AccessToken))).JsonAsync();
        anyCase.GetProperty("items").EnumerateArray().Select(u => u.GetProperty("user").GetProperty("email").GetString()).ShouldBe([$"list-{tag}-3@example.com"]);
        var admins = await (await client.SendAsync(HttpMethod.Get.Authorized($"/api/v1/admin/users?email={Uri.EscapeDataString(admin.Email)}&role=admin", admin.AccessToken))).JsonAsync();
        admins.GetProperty("items").GetArrayLength().ShouldBe(1);
    }

    [Fact]
    public async Task List_accepts_registration_times_with_any_offset()
    {
        var client = _api.CreateClient();
        var admin = await client.SignUpAdminAsync(database);

        var response = await client.SendAsync(HttpMethod.Get.Authorized($"/api/v1/admin/users?email={Uri.EscapeDataString(admin.Email)}&registeredFrom={Uri.EscapeDataString("2020-01-01T00:00:00+02:00")}&registeredTo={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddHours(1).ToOffset(TimeSpan.FromHours(-5)).ToString("O"))}", admin.AccessToken));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await response.JsonAsync()).GetProperty("items").GetArrayLength().ShouldBe(1);
    }

    [Fact]
    public async Task List_with_bad_filters_returns_400()
    {
        var client = _api.CreateClient();
        var admin = await client.SignUpAdminAsync(database);

        var response = await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/admin/users?role=owner&limit=0&cursor=garbage&email=a%00b", admin.AccessToken));

        var errors = (await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest)).GetProperty("errors");
        errors.TryGetProperty("role", out _).ShouldBeTrue();
        errors.TryGetProperty("limit", out _).ShouldBeTrue();
        errors.TryGetProperty("cursor", out _).ShouldBeTrue();
        errors.GetProperty("email")[0].GetString()!.ShouldContain("control characters");

        // Values that do not convert at all are field errors too, under the parameter's name.
        var unbound = await (await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/admin/users?limit=abc", admin.AccessToken))).ShouldBeProblemAsync(HttpStatusCode.BadRequest);
        unbound.GetProperty("errors").GetProperty("limit")[0].GetString().ShouldBe("'abc' is not a whole number in range.");
        var date = await (await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/admin/users?registeredFrom=yesterday", admin.AccessToken))).ShouldBeProblemAsync(HttpStatusCode.BadRequest);
        date.GetProperty("errors").GetProperty("registeredFrom")[0].GetString()!.ShouldStartWith("'yesterday' is not a date and time");
    }

    [Fact]
    public async Task Disabling_a_user_ends_their_access_on_the_next_request_and_is_logged()
    {
        var client = _api.CreateClient();
        var admin = await client.SignUpAdminAsync(database);
        var user = await client.SignUpAsync(database);
        (await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/auth/me", user.AccessToken))).StatusCode.ShouldBe(HttpStatusCode.OK);

        var response = await client.SendAsync(HttpMethod.Patch.Authorized($"/api/v1/admin/users/{user.UserId}", admin.AccessToken, new { status = "disabled" }));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await response.JsonAsync()).GetProperty("user").GetProperty("status").GetString().ShouldBe("disabled");
        (await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/auth/me", user.AccessToken))).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await (await client.LoginAsync(user.Email)).ShouldBeProblemAsync(HttpStatusCode.Forbidden)).GetProperty("code").GetString().ShouldBe("account_disabled");
        (await database.ScalarAsync<string>("select details->>'to' from activity_log where user_id = @UserId and kind = 'status_changed'", new { user.UserId })).ShouldBe("disabled");
    }

    [Fact]
    public async Task The_users_log_names_the_admin_but_not_their_address_which_the_admins_own_log_keeps()
    {
        var client = _api.CreateClient();
        var admin = await client.SignUpAdminAsync(database);
        var user = await client.SignUpAsync(database);
        var request = HttpMethod.Patch.Authorized($"/api/v1/admin/users/{user.UserId}", admin.AccessToken, new { role = "admin", status = "disabled" });
        request.Headers.UserAgent.ParseAdd("AdminConsole/1.0");

        (await client.SendAsync(request)).StatusCode.ShouldBe(HttpStatusCode.OK);

        var seen = await database.QueryAsync<(string Kind, string? Ip, string? UserAgent, string By)>(
            "select kind, host(ip), user_agent, details->>'by' from activity_log where user_id = @UserId and kind in ('role_changed', 'status_changed') order by id", new { user.UserId });
        seen.ShouldBe([("role_changed", null, null, admin.UserId.ToString()), ("status_changed", null, null, admin.UserId.ToString())]);
        var own = await (await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/users/me/activity", admin.AccessToken))).JsonAsync();
        var entry = own.GetProperty("items")[0];
        entry.GetProperty("kind").GetString().ShouldBe("user_updated");
        entry.GetProperty("userAgent").GetString().ShouldBe("AdminConsole/1.0");
        entry.GetProperty("details").GetProperty("user").GetGuid().ShouldBe(user.UserId);
        entry.GetProperty("details").GetProperty("changes").EnumerateArray().Select(c => c.GetString()).ShouldBe(["role_changed", "status_changed"]);
    }

    [Fact]
    public async Task Disabling_a_user_ends_their_sessions_for_good_and_enabling_them_again_brings_none_back()
    {
        var client = _api.CreateClient();
        var admin = await client.SignUpAdminAsync(database);
        var user = await client.SignUpAsync(database);

        (await client.SendAsync(HttpMethod.Patch.Authorized($"/api/v1/admin/users/{user.UserId}", admin.AccessToken, new { status = "disabled" }))).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await client.SendAsync(HttpMethod.Patch.Authorized($"/api/v1/admin/users/{user.UserId}", admin.AccessToken, new { status = "active" }))).StatusCode.ShouldBe(HttpStatusCode.OK);

        (await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/auth/me", user.AccessToken))).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        await (await client.PostAsJsonAsync(new Uri("/api/v1/auth/refresh", UriKind.Relative), new { user.RefreshToken })).ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
        (await database.ScalarAsync<string>("select revoked_reason from sessions where id = @SessionId", new { user.SessionId })).ShouldBe("account_disabled");
        (await database.ScalarAsync<string>("select details->>'sessionsRevoked' from activity_log where user_id = @UserId and kind = 'status_changed' and details->>'to' = 'disabled'", new { user.UserId })).ShouldBe("1");
        (await client.LoginAsync(user.Email)).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task An_admin_demoted_while_their_change_waits_for_the_admin_rows_is_refused()
    {
        // A database of its own: no other test's change may wait for (or hold) these admin rows.
        var fresh = await database.CreateDatabaseAsync("demoted");
        await using var api = new ApiFactory(database, new Dictionary<string, string?> { ["ConnectionStrings:Postgres"] = fresh });
        var client = api.CreateClient();
        var demoted = await client.SignUpAdminAsync(fresh);
        var user = await client.SignUpAsync(fresh);

        // Another admin's change holds the admin rows (as UpdateUser does) and demotes this admin, after this admin's
        // request has passed authentication.
        await using var other = new Npgsql.NpgsqlConnection(fresh);
        await other.OpenAsync();
        await using var transaction = await other.BeginTransactionAsync();
        await using (var lockAdmins = new Npgsql.NpgsqlCommand("select id from users where role = 'admin' and status = 'active' order by id for update", other, transaction))
        {
            await lockAdmins.ExecuteNonQueryAsync();
        }

        var change = client.SendAsync(HttpMethod.Patch.Authorized($"/api/v1/admin/users/{user.UserId}", demoted.AccessToken, new { role = "admin" }));
        // Another connection: pg_stat_activity is read once per transaction.
        await using var watcher = new Npgsql.NpgsqlConnection(fresh);
        await watcher.OpenAsync();
        await LockWaits.WaitAsync(watcher, change);
        await using (var demote = new Npgsql.NpgsqlCommand("update users set role = 'user' where id = @Id", other, transaction))
        {
            demote.Parameters.AddWithValue("Id", demoted.UserId);
            await demote.ExecuteNonQueryAsync();
        }

        await transaction.CommitAsync();

        (await (await change).ShouldBeProblemAsync(HttpStatusCode.Forbidden)).GetProperty("code").GetString().ShouldBe("not_admin");
        await using var role = new Npgsql.NpgsqlCommand("select role from users where id = @Id", other);
        role.Parameters.AddWithValue("Id", user.UserId);
        ((string)(await role.ExecuteScalarAsync())!).ShouldBe("user");
    }

    [Fact]
    public async Task Disabling_an_account_while_its_sign_out_holds_a_session_and_logs_it_does_not_deadlock()
    {
        var client = _api.CreateClient();
        var admin = await client.SignUpAdminAsync(database);
        var user = await client.SignUpAsync(database);

        // The user's sign-out (or refresh) holds its session row, as Logout does, and is about to write its activity entry.
        await using var signOut = new Npgsql.NpgsqlConnection(database.ConnectionString);
        await signOut.OpenAsync();
        await using var transaction = await signOut.BeginTransactionAsync();
        await using (var lockSession = new Npgsql.NpgsqlCommand("select 1 from sessions where id = @Id for update", signOut, transaction))
        {
            lockSession.Parameters.AddWithValue("Id", user.SessionId);
            await lockSession.ExecuteNonQueryAsync();
        }

        // The admin's disabling holds the account row and waits for that session.
        var disable = client.SendAsync(HttpMethod.Patch.Authorized($"/api/v1/admin/users/{user.UserId}", admin.AccessToken, new { status = "disabled" }));
        await using var watcher = new Npgsql.NpgsqlConnection(database.ConnectionString);
        await watcher.OpenAsync();
        await LockWaits.WaitAsync(watcher, disable, "'account_disabled'");

        // The entry's foreign-key check must not wait for the account row (it did: a deadlock, one side aborted).
        await using (var log = new Npgsql.NpgsqlCommand("insert into activity_log (user_id, kind, occurred_at) values (@Id, 'logout', now())", signOut, transaction))
        {
            log.Parameters.AddWithValue("Id", user.UserId);
            await log.ExecuteNonQueryAsync();
        }

        await transaction.CommitAsync();
        (await disable).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await database.ScalarAsync<string>("select revoked_reason from sessions where id = @SessionId", new { user.SessionId })).ShouldBe("account_disabled");
        (await database.ScalarAsync<long>("select count(*) from activity_log where user_id = @UserId and kind = 'logout'", new { user.UserId })).ShouldBe(1);
    }

    [Fact]
    public async Task Promoting_a_user_makes_their_old_token_stale_and_a_new_login_carries_admin()
    {
        var client = _api.CreateClient();
        var admin = await client.SignUpAdminAsync(database);
        var user = await client.SignUpAsync(database);

        (await client.SendAsync(HttpMethod.Patch.Authorized($"/api/v1/admin/users/{user.UserId}", admin.AccessToken, new { role = "admin" }))).StatusCode.ShouldBe(HttpStatusCode.OK);

        (await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/auth/me", user.AccessToken))).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        var fresh = await (await client.LoginAsync(user.Email)).JsonAsync();
        (await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/admin/users?limit=1", fresh.GetProperty("accessToken").GetString()!))).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Unlock_clears_a_lockout_and_the_addresss_sign_in_limit_and_is_logged_when_there_was_one()
    {
        var client = _api.CreateClient();
        var admin = await client.SignUpAdminAsync(database);
        var user = await client.SignUpAsync(database);
        // The wrong passwords that led to the lockout used up the address's attempts (5 per 15 minutes) too.
        for (var i = 0; i < 5; i++)
        {
            (await client.LoginAsync(user.Email, $"a wrong password {i}")).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        }

        await database.ExecuteAsync("update users set locked_until = now() + interval '1 hour', failed_logins = 0 where id = @UserId", new { user.UserId });
        (await client.LoginAsync(user.Email)).StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);

        (await client.SendAsync(HttpMethod.Patch.Authorized($"/api/v1/admin/users/{user.UserId}", admin.AccessToken, new { unlock = true }))).StatusCode.ShouldBe(HttpStatusCode.OK);

        (await client.LoginAsync(user.Email)).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await client.SendAsync(HttpMethod.Patch.Authorized($"/api/v1/admin/users/{user.UserId}", admin.AccessToken, new { unlock = true }))).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await database.ScalarAsync<long>("select count(*) from activity_log where user_id = @UserId and kind = 'account_unlocked'", new { user.UserId })).ShouldBe(1);
    }

    [Fact]
    public async Task Get_update_and_activity_of_an_unknown_user_are_404_and_an_empty_patch_is_400()
    {
        var client = _api.CreateClient();
        var admin = await client.SignUpAdminAsync(database);

        await (await client.SendAsync(HttpMethod.Get.Authorized($"/api/v1/admin/users/{Guid.NewGuid()}", admin.AccessToken))).ShouldBeProblemAsync(HttpStatusCode.NotFound);
        await (await client.SendAsync(HttpMethod.Patch.Authorized($"/api/v1/admin/users/{Guid.NewGuid()}", admin.AccessToken, new { role = "user" }))).ShouldBeProblemAsync(HttpStatusCode.NotFound);
        await (await client.SendAsync(HttpMethod.Get.Authorized($"/api/v1/admin/users/{Guid.NewGuid()}/activity", admin.AccessToken))).ShouldBeProblemAsync(HttpStatusCode.NotFound);
        await (await client.SendAsync(HttpMethod.Get.Authorized($"/api/v1/admin/users/{Guid.NewGuid()}/activity?before=100", admin.AccessToken))).ShouldBeProblemAsync(HttpStatusCode.NotFound);
        await (await client.SendAsync(HttpMethod.Patch.Authorized($"/api/v1/admin/users/{admin.UserId}", admin.AccessToken, new { }))).ShouldBeProblemAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task A_takeover_at_start_up_ends_the_previous_owners_access_at_once_on_nodes_already_running()
    {
        var fresh = await database.CreateDatabaseAsync("takeover");
        var email = Accounts.NewEmail("root");
        await using var running = new ApiFactory(database, new Dictionary<string, string?> { ["ConnectionStrings:Postgres"] = fresh });
        var client = running.CreateClient();
        var squatter = await client.SignUpAsync(fresh, email);
        // The running node has seen the session live (and keeps that answer for a few seconds).
        (await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/auth/me", squatter.AccessToken))).StatusCode.ShouldBe(HttpStatusCode.OK);

        // A node starting with the address configured as the first admin takes the account over.
        await using var starting = new ApiFactory(database, new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = fresh,
            ["Admin:Email"] = email,
            ["Admin:Password"] = "the very first admin",
        });
        starting.CreateClient().Dispose();

        (await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/auth/me", squatter.AccessToken))).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task The_last_admin_cannot_be_demoted_or_disabled_and_the_first_admin_comes_from_configuration()
    {
        var fresh = await database.CreateDatabaseAsync("admins");

        // Someone registered the configured admin address first: they must not end up as admin with their password.
        await using (var squatter = new ApiFactory(database, new Dictionary<string, string?> { ["ConnectionStrings:Postgres"] = fresh }))
        {
            (await squatter.CreateClient().RegisterAsync("root@example.com", "a password chosen by a squatter")).StatusCode.ShouldBe(HttpStatusCode.Created);
        }

        // ... and holds a session, whose refresh token would carry the role the account is given.
        await using var dataSource = Npgsql.NpgsqlDataSource.Create(fresh);
        var squatterSession = Guid.NewGuid();
        await using (var insert = dataSource.CreateCommand($"""
            insert into sessions (id, user_id, created_at, last_seen_at, expires_at)
            select '{squatterSession}', id, now() - interval '1 hour', now(), now() + interval '30 days' from users where email = 'root@example.com'
            """))
        {
            (await insert.ExecuteNonQueryAsync()).ShouldBe(1);
        }

        // ... and has asked to move the account to an address of theirs (its confirmation mail is on its way).
        await using (var move = dataSource.CreateCommand("update users set pending_email = 'squatter@example.net' where email = 'root@example.com'"))
        {
            (await move.ExecuteNonQueryAsync()).ShouldBe(1);
        }

        await using (var key = dataSource.CreateCommand("""
            insert into api_keys (id, user_id, name, public_id, secret_hash, created_at)
            select gen_random_uuid(), id, 'squatter', 'SQUATTERKEY1', '\x00', now() - interval '1 hour' from users where email = 'root@example.com'
            """))
        {
            (await key.ExecuteNonQueryAsync()).ShouldBe(1);
        }

        await using var api = new ApiFactory(database, new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = fresh,
            ["Admin:Email"] = "root@example.com",
            ["Admin:Password"] = "the very first admin",
        });
        var client = api.CreateClient();
        var response = await client.LoginAsync("root@example.com", "the very first admin");
        response.StatusCode.ShouldBe(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        var login = await response.JsonAsync();
        var token = login.GetProperty("accessToken").GetString()!;
        var id = login.GetProperty("user").GetProperty("id").GetString();
        login.GetProperty("user").GetProperty("role").GetString().ShouldBe("admin");

        var demote = await client.SendAsync(HttpMethod.Patch.Authorized($"/api/v1/admin/users/{id}", token, new { role = "user" }));
        var disable = await client.SendAsync(HttpMethod.Patch.Authorized($"/api/v1/admin/users/{id}", token, new { status = "disabled" }));

        (await demote.ShouldBeProblemAsync(HttpStatusCode.Conflict)).GetProperty("code").GetString().ShouldBe("last_admin");
        (await disable.ShouldBeProblemAsync(HttpStatusCode.Conflict)).GetProperty("code").GetString().ShouldBe("last_admin");
        (await client.LoginAsync("root@example.com", "a password chosen by a squatter")).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        await using var command = dataSource.CreateCommand("select count(*) from users where role = 'admin' and status = 'active'");
        ((long)(await command.ExecuteScalarAsync())!).ShouldBe(1);
        await using var revoked = dataSource.CreateCommand($"select revoked_reason from sessions where id = '{squatterSession}'");
        ((string)(await revoked.ExecuteScalarAsync())!).ShouldBe("admin_bootstrap");
        await using var liveKeys = dataSource.CreateCommand("select count(*) from api_keys where public_id = 'SQUATTERKEY1' and revoked_at is null");
        ((long)(await liveKeys.ExecuteScalarAsync())!).ShouldBe(0);
        await using var pending = dataSource.CreateCommand("""
            select count(*) filter (where u.pending_email is not null) + count(*) filter (where t.used_at is null)
            from users u left join activation_tokens t on t.user_id = u.id where u.email = 'root@example.com'
            """);
        ((long)(await pending.ExecuteScalarAsync())!).ShouldBe(0);
    }

    [Fact]
    public async Task Activity_is_readable_by_its_user_and_by_admins_newest_first_with_paging()
    {
        var client = _api.CreateClient();
        var admin = await client.SignUpAdminAsync(database);
        var user = await client.SignUpAsync(database);
        await client.LoginAsync(user.Email, "wrong password here");

        var own = await (await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/users/me/activity?limit=2", user.AccessToken))).JsonAsync();
        var older = await (await client.SendAsync(HttpMethod.Get.Authorized($"/api/v1/users/me/activity?before={own.GetProperty("nextBefore").GetInt64()}", user.AccessToken))).JsonAsync();
        var asAdmin = await (await client.SendAsync(HttpMethod.Get.Authorized($"/api/v1/admin/users/{user.UserId}/activity", admin.AccessToken))).JsonAsync();

        var kinds = own.GetProperty("items").EnumerateArray().Concat(older.GetProperty("items").EnumerateArray()).Select(e => e.GetProperty("kind").GetString()).ToList();
        kinds.ShouldBe(["login_failed", "login", "activated", "registered"]);
        asAdmin.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("kind").GetString()).ShouldBe(kinds);
        (await client.SendAsync(HttpMethod.Get.Authorized($"/api/v1/admin/users/{admin.UserId}/activity", user.AccessToken))).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task The_cached_newest_activity_shows_a_change_on_the_next_read()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);
        var before = await (await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/users/me/activity", user.AccessToken))).JsonAsync();
        before.GetProperty("items")[0].GetProperty("kind").GetString().ShouldBe("login");

        await client.SendAsync(HttpMethod.Patch.Authorized("/api/v1/users/me", user.AccessToken, new { displayName = "Changed" }));
        var after = await (await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/users/me/activity", user.AccessToken))).JsonAsync();

        after.GetProperty("items")[0].GetProperty("kind").GetString().ShouldBe("profile_updated");
        after.GetProperty("items").GetArrayLength().ShouldBe(before.GetProperty("items").GetArrayLength() + 1);
    }

    [Fact]
    public async Task A_reader_that_read_the_activity_before_a_change_cannot_cache_it_after_the_change()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);
        var recent = _api.Services.GetRequiredService<RecentActivity>();

        // A reader's miss reads the newest entries; a change commits meanwhile; the reader's fill comes after it.
        var stale = await recent.PageAsync(user.UserId, null, RecentActivity.Size, CancellationToken.None);
        (await client.SendAsync(HttpMethod.Patch.Authorized("/api/v1/users/me", user.AccessToken, new { displayName = "Changed" }))).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await recent.FillAsync(user.UserId, stale)).ShouldBeFalse();

        var after = await (await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/users/me/activity", user.AccessToken))).JsonAsync();
        after.GetProperty("items")[0].GetProperty("kind").GetString().ShouldBe("profile_updated");
    }
}
