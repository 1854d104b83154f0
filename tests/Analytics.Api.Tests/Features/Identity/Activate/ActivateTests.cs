using System.Net;
using System.Net.Http.Json;
using Analytics.Api.Tests.Infrastructure;

namespace Analytics.Api.Tests.Features.Identity.Activate;

public sealed class ActivateTests(TestDatabase database) : IAsyncDisposable
{
    private readonly ApiFactory _api = new(database);

    public ValueTask DisposeAsync() => _api.DisposeAsync();

    private static Task<HttpResponseMessage> ActivateAsync(HttpClient client, object body) =>
        client.PostAsJsonAsync(new Uri("/api/v1/auth/activate", UriKind.Relative), body);

    [Fact]
    public async Task Activate_with_the_link_token_activates_and_records_it()
    {
        var client = _api.CreateClient();
        var email = Accounts.NewEmail();
        await client.RegisterAsync(email);
        var (token, _) = await database.ActivationMailAsync(email);

        var response = await ActivateAsync(client, new { token });

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await response.JsonAsync()).GetProperty("status").GetString().ShouldBe("active");
        (await database.ScalarAsync<string>("select status from users where email = @email", new { email })).ShouldBe("active");
        (await database.ScalarAsync<string>("select a.details->>'method' from activity_log a join users u on u.id = a.user_id where u.email = @email and a.kind = 'activated'", new { email })).ShouldBe("link");
    }

    [Fact]
    public async Task The_mails_default_link_opens_the_activation_page_which_does_not_activate_by_itself()
    {
        var client = _api.CreateClient();
        var email = Accounts.NewEmail();
        await client.RegisterAsync(email);
        var body = await database.ScalarAsync<string>("select body from outbox where recipient = @email order by id desc limit 1", new { email });
        var link = new Uri(body!.Split((char[])[' ', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries).Single(w => w.Contains("?token=", StringComparison.Ordinal)));

        var response = await client.GetAsync(new Uri(link.PathAndQuery, UriKind.Relative));

        link.AbsolutePath.ShouldBe("/activate");
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("text/html");
        var page = await response.Content.ReadAsStringAsync();
        page.ShouldContain("fetch(\"/api/v1/auth/activate\"");
        page.ShouldContain("addEventListener(\"submit\"");
        // Mail scanners open links: only the button spends the token.
        (await database.ScalarAsync<string>("select status from users where email = @email", new { email })).ShouldBe("pending");
    }

    [Fact]
    public async Task Activate_with_email_and_code_activates()
    {
        var client = _api.CreateClient();
        var email = Accounts.NewEmail();
        await client.RegisterAsync(email);
        var (_, code) = await database.ActivationMailAsync(email);

        var response = await ActivateAsync(client, new { email, code });

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await database.ScalarAsync<string>("select status from users where email = @email", new { email })).ShouldBe("active");
    }

    [Fact]
    public async Task A_code_with_a_trailing_newline_is_a_field_error_that_spends_no_attempt()
    {
        var client = _api.CreateClient();
        var email = Accounts.NewEmail();
        await client.RegisterAsync(email);
        var (_, code) = await database.ActivationMailAsync(email);

        var problem = await (await ActivateAsync(client, new { email, code = code + "\n" })).ShouldBeProblemAsync(HttpStatusCode.BadRequest);

        problem.GetProperty("errors").TryGetProperty("code", out _).ShouldBeTrue();
        (await database.ScalarAsync<int>("select t.attempts from activation_tokens t join users u on u.id = t.user_id where u.email = @email", new { email })).ShouldBe(0);
    }

    [Fact]
    public async Task Activate_a_second_time_returns_410_used()
    {
        var client = _api.CreateClient();
        var email = Accounts.NewEmail();
        await client.RegisterAsync(email);
        var (token, _) = await database.ActivationMailAsync(email);
        await ActivateAsync(client, new { token });

        var problem = await (await ActivateAsync(client, new { token })).ShouldBeProblemAsync(HttpStatusCode.Gone);

        problem.GetProperty("code").GetString().ShouldBe("activation_used");
    }

    [Fact]
    public async Task Activate_with_an_expired_token_returns_410_and_leaves_the_account_pending()
    {
        var client = _api.CreateClient();
        var email = Accounts.NewEmail();
        await client.RegisterAsync(email);
        var (token, _) = await database.ActivationMailAsync(email);
        await database.ExecuteAsync("update activation_tokens t set expires_at = now() - interval '1 minute' from users u where u.id = t.user_id and u.email = @email", new { email });

        var problem = await (await ActivateAsync(client, new { token })).ShouldBeProblemAsync(HttpStatusCode.Gone);

        problem.GetProperty("code").GetString().ShouldBe("activation_expired");
        (await database.ScalarAsync<string>("select status from users where email = @email", new { email })).ShouldBe("pending");
    }

    [Fact]
    public async Task Activate_with_an_unknown_token_returns_400()
    {
        var problem = await (await ActivateAsync(_api.CreateClient(), new { token = "no-such-token" })).ShouldBeProblemAsync(HttpStatusCode.BadRequest);

        problem.GetProperty("code").GetString().ShouldBe("activation_invalid");
    }

    [Fact]
    public async Task Activate_with_wrong_codes_returns_400_then_410_after_five_even_for_the_right_code()
    {
        var client = _api.CreateClient();
        var email = Accounts.NewEmail();
        await client.RegisterAsync(email);
        var (_, code) = await database.ActivationMailAsync(email);
        var wrong = code == "000000" ? "111111" : "000000";

        for (var i = 0; i < 5; i++)
        {
            (await ActivateAsync(client, new { email, code = wrong })).StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        }

        var problem = await (await ActivateAsync(client, new { email, code })).ShouldBeProblemAsync(HttpStatusCode.Gone);
        problem.GetProperty("code").GetString().ShouldBe("activation_code_exhausted");
        (await database.ScalarAsync<string>("select status from users where email = @email", new { email })).ShouldBe("pending");
    }

    [Fact]
    public async Task Code_guesses_are_capped_per_address_across_new_codes()
    {
        var client = _api.CreateClient();
        var email = Accounts.NewEmail();
        await client.RegisterAsync(email);
        var wrong = new { email, code = "000000" };

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 11; i++)
        {
            if (i == 5)
            {
                await database.ExecuteAsync("update activation_tokens t set attempts = 0 from users u where u.id = t.user_id and u.email = @email", new { email });
            }

            statuses.Add((await ActivateAsync(client, wrong)).StatusCode);
        }

        statuses.Take(10).ShouldNotContain(HttpStatusCode.TooManyRequests);
        statuses[10].ShouldBe(HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task Activate_without_token_or_code_returns_400()
    {
        var problem = await (await ActivateAsync(_api.CreateClient(), new { email = "a@example.com" })).ShouldBeProblemAsync(HttpStatusCode.BadRequest);

        problem.GetProperty("errors").GetProperty("token")[0].GetString()!.ShouldContain("Send either");
    }

    [Fact]
    public async Task Resend_for_a_pending_account_sends_a_new_mail_and_the_old_link_stops_working()
    {
        var client = _api.CreateClient();
        var email = Accounts.NewEmail();
        await client.RegisterAsync(email);
        var (oldToken, _) = await database.ActivationMailAsync(email);

        var response = await client.PostAsJsonAsync(new Uri("/api/v1/auth/activation/resend", UriKind.Relative), new { email });

        response.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        (await database.ScalarAsync<long>("select count(*) from outbox where recipient = @email", new { email })).ShouldBe(2);
        (await ActivateAsync(client, new { token = oldToken })).StatusCode.ShouldBe(HttpStatusCode.Gone);
        var (newToken, _) = await database.ActivationMailAsync(email);
        (await ActivateAsync(client, new { token = newToken })).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Resend_for_an_unknown_address_answers_the_same_202_and_sends_nothing()
    {
        var email = Accounts.NewEmail("nobody");

        var response = await _api.CreateClient().PostAsJsonAsync(new Uri("/api/v1/auth/activation/resend", UriKind.Relative), new { email });

        response.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        (await database.ScalarAsync<long>("select count(*) from outbox where recipient = @email", new { email })).ShouldBe(0);
    }

    [Fact]
    public async Task Resend_is_throttled_per_address_with_429_and_retry_after()
    {
        var client = _api.CreateClient();
        var email = Accounts.NewEmail();
        await client.RegisterAsync(email);

        for (var i = 0; i < 3; i++)
        {
            (await client.PostAsJsonAsync(new Uri("/api/v1/auth/activation/resend", UriKind.Relative), new { email })).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        }

        var response = await client.PostAsJsonAsync(new Uri("/api/v1/auth/activation/resend", UriKind.Relative), new { email });
        await response.ShouldBeProblemAsync(HttpStatusCode.TooManyRequests);
        response.Headers.RetryAfter.ShouldNotBeNull();
        (await database.ScalarAsync<long>("select count(*) from outbox where recipient = @email", new { email })).ShouldBe(4);
    }

    [Fact]
    public async Task Dev_mailbox_in_development_shows_the_simulated_mail()
    {
        await using var dev = new ApiFactory(database, environment: "Development");
        var client = dev.CreateClient();
        var email = Accounts.NewEmail();
        await client.RegisterAsync(email);

        var response = await client.GetAsync(new Uri($"/dev/mailbox?to={Uri.EscapeDataString(email)}", UriKind.Relative));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var mails = await response.JsonAsync();
        mails.GetArrayLength().ShouldBe(1);
        mails[0].GetProperty("subject").GetString().ShouldBe("Activate your Analytics account");
        mails[0].GetProperty("body").GetString()!.ShouldContain("code:");
    }

    [Fact]
    public async Task Dev_mailbox_outside_development_does_not_exist()
    {
        var response = await _api.CreateClient().GetAsync(new Uri("/dev/mailbox?to=a@example.com", UriKind.Relative));

        await response.ShouldBeProblemAsync(HttpStatusCode.NotFound);
    }
}
