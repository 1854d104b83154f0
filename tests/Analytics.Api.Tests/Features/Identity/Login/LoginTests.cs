using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Analytics.Api.Infrastructure.Security;
using Analytics.Api.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Analytics.Api.Tests.Features.Identity.Login;

public sealed class LoginTests(TestDatabase database) : IAsyncDisposable
{
    private const string ChromeOnWindows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.127 Safari/537.36";

    private readonly ApiFactory _api = new(database);

    public ValueTask DisposeAsync() => _api.DisposeAsync();

    private async Task<string> ActiveUserAsync(HttpClient client, string? email = null)
    {
        email ??= Accounts.NewEmail();
        await client.RegisterAsync(email);
        var (token, _) = await database.ActivationMailAsync(email);
        await client.PostAsJsonAsync(new Uri("/api/v1/auth/activate", UriKind.Relative), new { token });
        return email;
    }

    [Fact]
    public async Task Login_returns_tokens_and_stores_a_session_with_device_location_and_attribution()
    {
        var client = _api.CreateClient();
        var email = await ActiveUserAsync(client);
        client.DefaultRequestHeaders.UserAgent.ParseAdd(ChromeOnWindows);

        var response = await client.LoginAsync(email, extra: new { countryCode = "fr", latitude = 48.85, longitude = 2.35, timezone = "Europe/Paris", utmCampaign = "spring" });

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var body = await response.JsonAsync();
        body.GetProperty("tokenType").GetString().ShouldBe("Bearer");
        body.GetProperty("accessToken").GetString()!.Split('.').Length.ShouldBe(3);
        body.GetProperty("refreshToken").GetString()!.Length.ShouldBeGreaterThanOrEqualTo(43);
        body.GetProperty("user").GetProperty("email").GetString().ShouldBe(email);
        var sessionId = Guid.Parse(body.GetProperty("sessionId").GetString()!);

        var session = (await database.QueryAsync<(string DeviceType, string Browser, string BrowserVersion, string Os, string OsVersion, string CountryCode, string Timezone, string UtmCampaign, string Fingerprint)>(
            "select device_type, browser, browser_version, os, os_version, country_code, timezone, utm_campaign, device_fingerprint from sessions where id = @sessionId", new { sessionId })).Single();
        session.ShouldBe(("desktop", "Chrome", "126.0.6478.127", "Windows", "10", "FR", "Europe/Paris", "spring", session.Fingerprint));
        session.Fingerprint.Length.ShouldBe(32);
        (await database.ScalarAsync<long>("select count(*) from refresh_tokens where session_id = @sessionId", new { sessionId })).ShouldBe(1);
        (await database.ScalarAsync<long>("select count(*) from activity_log a join users u on u.id = a.user_id where u.email = @email and a.kind = 'login'", new { email })).ShouldBe(1);

        var me = await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/auth/me", body.GetProperty("accessToken").GetString()!));
        me.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await me.JsonAsync()).GetProperty("email").GetString().ShouldBe(email);
    }

    [Fact]
    public async Task Wrong_password_and_unknown_email_get_the_same_401_and_are_both_recorded()
    {
        var client = _api.CreateClient();
        var email = await ActiveUserAsync(client);
        var unknown = Accounts.NewEmail("ghost");

        var wrong = await (await client.LoginAsync(email, "wrong password here")).ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
        var missing = await (await client.LoginAsync(unknown)).ShouldBeProblemAsync(HttpStatusCode.Unauthorized);

        static string Comparable(JsonElement problem) => JsonSerializer.Serialize(new
        {
            title = problem.GetProperty("title").GetString(),
            detail = problem.GetProperty("detail").GetString(),
            code = problem.GetProperty("code").GetString(),
        });
        Comparable(wrong).ShouldBe(Comparable(missing));
        (await database.ScalarAsync<string>("select a.details->>'reason' from activity_log a join users u on u.id = a.user_id where u.email = @email and a.kind = 'login_failed'", new { email })).ShouldBe("wrong_password");
        (await database.ScalarAsync<string>("select details->>'reason' from activity_log where kind = 'login_failed' and details->>'email' = @unknown", new { unknown })).ShouldBe("unknown_email");
        (await database.ScalarAsync<int>("select failed_logins from users where email = @email", new { email })).ShouldBe(1);
    }

    [Fact]
    public async Task Login_to_a_pending_account_with_the_right_password_returns_403_account_pending()
    {
        var client = _api.CreateClient();
        var email = Accounts.NewEmail();
        await client.RegisterAsync(email);

        var problem = await (await client.LoginAsync(email)).ShouldBeProblemAsync(HttpStatusCode.Forbidden);

        problem.GetProperty("code").GetString().ShouldBe("account_pending");
        (await database.ScalarAsync<long>("select count(*) from sessions s join users u on u.id = s.user_id where u.email = @email", new { email })).ShouldBe(0);
    }

    [Fact]
    public async Task Ten_wrong_passwords_lock_the_account_with_423_even_for_the_right_password()
    {
        await using var api = new ApiFactory(database, new Dictionary<string, string?> { ["SignIn:MaxAttemptsPerEmail"] = "100" });
        var client = api.CreateClient();
        var email = await ActiveUserAsync(client);

        for (var i = 0; i < 10; i++)
        {
            (await client.LoginAsync(email, "wrong password here")).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        }

        var response = await client.LoginAsync(email);
        var problem = await response.ShouldBeProblemAsync(HttpStatusCode.Locked);
        problem.GetProperty("code").GetString().ShouldBe("account_locked");
        response.Headers.RetryAfter!.Delta!.Value.TotalMinutes.ShouldBeInRange(14, 15.1);
        (await database.ScalarAsync<bool>("select locked_until > now() from users where email = @email", new { email })).ShouldBeTrue();
        (await database.ScalarAsync<long>("select count(*) from activity_log a join users u on u.id = a.user_id where u.email = @email and a.kind = 'account_locked'", new { email })).ShouldBe(1);
    }

    [Fact]
    public async Task Sixth_attempt_for_one_email_within_the_window_returns_429_with_rate_limit_headers()
    {
        var client = _api.CreateClient();
        var email = await ActiveUserAsync(client);

        for (var i = 0; i < 5; i++)
        {
            (await client.LoginAsync(email, "wrong password here")).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        }

        var response = await client.LoginAsync(email);
        await response.ShouldBeProblemAsync(HttpStatusCode.TooManyRequests);
        response.Headers.RetryAfter.ShouldNotBeNull();
        response.Headers.GetValues("RateLimit-Limit").Single().ShouldBe("5");
        response.Headers.GetValues("RateLimit-Remaining").Single().ShouldBe("0");
        (await database.ScalarAsync<long>("select count(*) from activity_log where kind = 'login_throttled' and details->>'email' = @email", new { email })).ShouldBe(1);
    }

    [Fact]
    public async Task Parallel_attempts_cannot_slip_past_the_per_email_limit()
    {
        var client = _api.CreateClient();
        var email = await ActiveUserAsync(client);

        var responses = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => client.LoginAsync(email, "wrong password here")));

        responses.Count(r => r.StatusCode == HttpStatusCode.Unauthorized).ShouldBe(5);
        responses.Count(r => r.StatusCode == HttpStatusCode.TooManyRequests).ShouldBe(7);
    }

    [Fact]
    public async Task Per_ip_limit_applies_across_emails()
    {
        // In-process stores: every test client shares one (absent) IP, so a shared Redis window would hold other tests' hits.
        await using var api = new ApiFactory(database, new Dictionary<string, string?> { ["SignIn:MaxAttemptsPerIp"] = "3", ["Redis:ConnectionString"] = "" });
        var client = api.CreateClient();

        for (var i = 0; i < 3; i++)
        {
            (await client.LoginAsync(Accounts.NewEmail("ip"), "wrong password here")).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        }

        await (await client.LoginAsync(Accounts.NewEmail("ip"))).ShouldBeProblemAsync(HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task Login_rehashes_a_password_made_with_other_argon2_parameters()
    {
        var client = _api.CreateClient();
        var email = await ActiveUserAsync(client);
        await using var cheaper = new ApiFactory(database, new Dictionary<string, string?> { ["Passwords:MemoryKib"] = "8192", ["Passwords:Iterations"] = "3" });

        (await cheaper.CreateClient().LoginAsync(email)).StatusCode.ShouldBe(HttpStatusCode.OK);

        (await database.ScalarAsync<string>("select password_hash from users where email = @email", new { email })).ShouldStartWith("$argon2id$v=19$m=8192,t=3,p=1$");
        (await cheaper.CreateClient().LoginAsync(email)).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task A_password_changed_while_a_sign_in_checks_the_old_one_opens_no_session()
    {
        var email = await ActiveUserAsync(_api.CreateClient(), Accounts.NewEmail("race"));
        const string ChangedHash = "$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$changedchangedchangedchangedchangedchang";
        // The password changes (committed) after the sign-in read the user and while it verifies the old password.
        await using var racing = _api.WithWebHostBuilder(b => b.ConfigureServices(services =>
        {
            var real = services.Single(d => d.ServiceType == typeof(IPasswordHasher));
            services.Remove(real);
            services.AddSingleton<IPasswordHasher>(sp => new ChangesPasswordWhileVerifying(
                (IPasswordHasher)ActivatorUtilities.CreateInstance(sp, real.ImplementationType!), () => database.ExecuteAsync("update users set password_hash = @ChangedHash where email = @email", new { ChangedHash, email })));
        }));

        var response = await racing.CreateClient().LoginAsync(email);

        await response.ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
        (await database.ScalarAsync<long>("select count(*) from sessions s join users u on u.id = s.user_id where u.email = @email", new { email })).ShouldBe(0);
        (await database.ScalarAsync<string>("select password_hash from users where email = @email", new { email })).ShouldBe(ChangedHash);
    }

    private sealed class ChangesPasswordWhileVerifying(IPasswordHasher inner, Func<Task> change) : IPasswordHasher
    {
        public Task<string> HashAsync(string password, CancellationToken ct) => inner.HashAsync(password, ct);

        public async Task<PasswordCheck> VerifyAsync(string hash, string password, CancellationToken ct)
        {
            var check = await inner.VerifyAsync(hash, password, ct);
            await change();
            return check;
        }

        public Task SpendOneVerificationAsync(string password, CancellationToken ct) => inner.SpendOneVerificationAsync(password, ct);
    }

    [Fact]
    public async Task A_sign_in_whose_writes_fail_stores_none_of_them()
    {
        // The sign-in's four writes go as one command without an explicit transaction: PostgreSQL must run them as
        // one implicit transaction. A trigger refuses the third (the refresh token) for this test's users only.
        await database.ExecuteAsync("""
            create or replace function refuse_refresh_token_for_atomic_test() returns trigger language plpgsql as $$
            begin
              if exists (select 1 from sessions s join users u on u.id = s.user_id where s.id = new.session_id and u.email like 'atomic-%') then
                raise exception 'refresh token refused by the test';
              end if;
              return new;
            end $$;
            create or replace trigger refuse_refresh_token_for_atomic_test before insert on refresh_tokens
              for each row execute function refuse_refresh_token_for_atomic_test();
            """);
        try
        {
            var client = _api.CreateClient();
            var email = await ActiveUserAsync(client, Accounts.NewEmail("atomic"));
            // Earlier wrong passwords: a successful sign-in clears them in its first write.
            await database.ExecuteAsync("update users set failed_logins = 3 where email = @email", new { email });

            (await client.LoginAsync(email)).StatusCode.ShouldBe(HttpStatusCode.InternalServerError);

            (await database.ScalarAsync<int>("select failed_logins from users where email = @email", new { email })).ShouldBe(3);
            (await database.ScalarAsync<long>("select count(*) from sessions s join users u on u.id = s.user_id where u.email = @email", new { email })).ShouldBe(0);
            (await database.ScalarAsync<long>("select count(*) from activity_log a join users u on u.id = a.user_id where u.email = @email and a.kind = 'login'", new { email })).ShouldBe(0);
        }
        finally
        {
            // Other tests insert refresh tokens into the same database: they should not pay for the check.
            await database.ExecuteAsync("""
                drop trigger refuse_refresh_token_for_atomic_test on refresh_tokens;
                drop function refuse_refresh_token_for_atomic_test();
                """);
        }
    }

    [Fact]
    public async Task Login_with_bad_fields_returns_400_naming_them()
    {
        var response = await _api.CreateClient().LoginAsync("not-an-email", "", new { latitude = 91, countryCode = "FRA", timezone = "Mars/Olympus" });

        var errors = (await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest)).GetProperty("errors");
        foreach (var field in new[] { "email", "password", "latitude", "countryCode", "timezone" })
        {
            errors.TryGetProperty(field, out _).ShouldBeTrue(field);
        }
    }

    [Fact]
    public async Task A_country_code_with_a_trailing_newline_is_400()
    {
        var response = await _api.CreateClient().LoginAsync(Accounts.NewEmail(), Accounts.Password, new { countryCode = "FR\n" });

        (await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest)).GetProperty("errors").TryGetProperty("countryCode", out _).ShouldBeTrue();
    }
}
