using System.Net;
using System.Net.Http.Json;
using Analytics.Api.Tests.Infrastructure;

namespace Analytics.Api.Tests.Features.Identity.Register;

public sealed class RegisterTests(TestDatabase database) : IAsyncDisposable
{
    private readonly ApiFactory _api = new(database);

    public ValueTask DisposeAsync() => _api.DisposeAsync();

    [Fact]
    public async Task Register_with_valid_body_returns_201_pending_user_and_stores_hash_mail_and_activity()
    {
        var email = Accounts.NewEmail();

        var response = await _api.CreateClient().RegisterAsync(email.ToUpperInvariant(), extra: new
        {
            displayName = "  Ada  ",
            age = 36,
            gender = "female",
            role = "admin",
            utmSource = "newsletter",
            landingPage = "https://app.example.com/welcome",
        });

        response.StatusCode.ShouldBe(HttpStatusCode.Created);
        var text = await response.Content.ReadAsStringAsync();
        text.ShouldNotContain("argon2");
        text.ShouldNotContain(Accounts.Password);
        var user = await response.JsonAsync();
        user.GetProperty("email").GetString().ShouldBe(email);
        user.GetProperty("displayName").GetString().ShouldBe("Ada");
        user.GetProperty("gender").GetString().ShouldBe("female");
        user.GetProperty("role").GetString().ShouldBe("user");
        user.GetProperty("status").GetString().ShouldBe("pending");
        var id = Guid.Parse(user.GetProperty("id").GetString()!);

        (await database.ScalarAsync<string>("select password_hash from users where id = @id", new { id })).ShouldStartWith("$argon2id$v=19$m=19456,t=2,p=1$");
        (await database.ScalarAsync<string>("select role from users where id = @id", new { id })).ShouldBe("user");
        (await database.ScalarAsync<string>("select utm_source from users where id = @id", new { id })).ShouldBe("newsletter");
        (await database.ScalarAsync<long>("select count(*) from outbox where recipient = @email", new { email })).ShouldBe(1);
        (await database.ScalarAsync<long>("select count(*) from activation_tokens where user_id = @id", new { id })).ShouldBe(1);
        (await database.ScalarAsync<string>("select kind from activity_log where user_id = @id", new { id })).ShouldBe("registered");
    }

    [Fact]
    public async Task Register_with_a_taken_email_in_another_case_returns_409_that_leaks_nothing_and_changes_nothing()
    {
        var client = _api.CreateClient();
        var email = Accounts.NewEmail();
        var first = await (await client.RegisterAsync(email, extra: new { displayName = "Original Owner" })).JsonAsync();
        var id = first.GetProperty("id").GetString()!;
        var hashBefore = await database.ScalarAsync<string>("select password_hash from users where email = @email", new { email });

        var response = await client.RegisterAsync(email.ToUpperInvariant(), "another password entirely", new { displayName = "Intruder" });

        var body = await response.ShouldBeProblemAsync(HttpStatusCode.Conflict);
        body.GetProperty("code").GetString().ShouldBe("email_taken");
        var text = body.GetRawText();
        text.ShouldNotContain(id);
        text.ShouldNotContain("Original Owner");
        text.ShouldNotContain("pending");
        (await database.ScalarAsync<string>("select password_hash from users where email = @email", new { email })).ShouldBe(hashBefore);
        (await database.ScalarAsync<string>("select display_name from users where email = @email", new { email })).ShouldBe("Original Owner");
        (await database.ScalarAsync<long>("select count(*) from outbox where recipient = @email", new { email })).ShouldBe(1);
    }

    public static TheoryData<string, object, string> BadBodies => new()
    {
        { "email", new { email = "not-an-email", password = Accounts.Password }, "E-mail is not a valid address" },
        { "email", new { email = "a@b", password = Accounts.Password }, "E-mail is not a valid address" },
        { "email", new { email = "Name <a@example.com>", password = Accounts.Password }, "E-mail is not a valid address" },
        { "email", new { email = new string('a', 250) + "@example.com", password = Accounts.Password }, "at most 254" },
        { "password", new { email = "x@example.com", password = "short" }, "at least 10" },
        { "password", new { email = "x@example.com", password = "password123" }, "most commonly used" },
        { "password", new { email = "someone.long@example.com", password = "someone.long@example.com" }, "must not be your e-mail" },
        { "password", new { email = "x@example.com", password = new string('p', 129) }, "at most 128" },
        { "displayName", new { email = "x@example.com", password = Accounts.Password, displayName = new string('d', 101) }, "at most 100" },
        { "age", new { email = "x@example.com", password = Accounts.Password, age = -1 }, "between 0 and 150" },
        // System.Text.Json reads comma-joined names as their combination, which is no gender (PostgreSQL's check refused it: a 500).
        { "gender", new { email = "x@example.com", password = Accounts.Password, gender = "female, other" }, "male, female or other" },
        { "referrerUrl", new { email = "x@example.com", password = Accounts.Password, referrerUrl = "javascript:alert(1)" }, "absolute http(s) URL" },
        { "utmSource", new { email = "x@example.com", password = Accounts.Password, utmSource = new string('u', 201) }, "at most 200" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task Register_with_an_invalid_field_returns_400_naming_it_and_stores_nothing(string field, object body, string message)
    {
        var response = await _api.CreateClient().PostAsJsonAsync(new Uri("/api/v1/auth/register", UriKind.Relative), body);

        var problem = await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest);
        problem.GetProperty("errors").GetProperty(field)[0].GetString()!.ShouldContain(message);
        (await database.ScalarAsync<long>("select count(*) from users where email = 'x@example.com'")).ShouldBe(0);
    }

    [Theory]
    [InlineData("""{"email":"x@example.com","password":"correct horse battery","gender":"robot"}""", "$.gender")]
    [InlineData("""{"email":"x@example.com","password":"correct horse battery","age":"old"}""", "$.age")]
    [InlineData("""{"email":42,"password":"correct horse battery"}""", "$.email")]
    public async Task Register_with_wrong_types_or_unknown_enum_values_returns_400(string json, string path)
    {
        var response = await _api.CreateClient().PostAsync(new Uri("/api/v1/auth/register", UriKind.Relative), new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

        var problem = await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest);
        problem.GetProperty("detail").GetString()!.ShouldContain(path);
    }

    [Fact]
    public async Task A_blank_display_name_is_stored_as_none_as_the_profile_update_does()
    {
        var email = Accounts.NewEmail();

        var response = await _api.CreateClient().RegisterAsync(email, extra: new { displayName = "   " });

        response.StatusCode.ShouldBe(HttpStatusCode.Created);
        (await response.JsonAsync()).GetProperty("displayName").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.Null);
        (await database.ScalarAsync<string?>("select display_name from users where email = @email", new { email })).ShouldBeNull();
    }

    [Fact]
    public async Task Registrations_from_one_address_are_throttled_before_any_work()
    {
        await using var api = new ApiFactory(database, new Dictionary<string, string?> { ["SignIn:MaxRegistrationsPerIp"] = "2", ["Redis:ConnectionString"] = "" });
        var client = api.CreateClient();
        (await client.RegisterAsync(Accounts.NewEmail())).StatusCode.ShouldBe(HttpStatusCode.Created);
        (await client.RegisterAsync(Accounts.NewEmail())).StatusCode.ShouldBe(HttpStatusCode.Created);
        var third = Accounts.NewEmail();

        var response = await client.RegisterAsync(third);

        await response.ShouldBeProblemAsync(HttpStatusCode.TooManyRequests);
        response.Headers.RetryAfter.ShouldNotBeNull();
        (await database.ScalarAsync<long>("select count(*) from users where email = @third", new { third })).ShouldBe(0);
    }

    [Fact]
    public async Task Sent_activation_mails_lose_their_body_unless_configured_to_keep_it()
    {
        // Its own database: every test node's dispatcher delivers whatever is pending in the one it uses.
        var fresh = await database.CreateDatabaseAsync("outbox");
        await using var api = new ApiFactory(database, new Dictionary<string, string?> { ["ConnectionStrings:Postgres"] = fresh, ["Email:KeepSentBodies"] = "false", ["Email:PollInterval"] = "00:00:00.100" });
        var email = Accounts.NewEmail();
        (await api.CreateClient().RegisterAsync(email)).StatusCode.ShouldBe(HttpStatusCode.Created);

        await using var dataSource = Npgsql.NpgsqlDataSource.Create(fresh);
        string? body = null;
        for (var i = 0; i < 100 && body != "(delivered; body removed)"; i++)
        {
            await Task.Delay(100);
            await using var command = dataSource.CreateCommand("select body from outbox where sent_at is not null");
            body = (string?)await command.ExecuteScalarAsync();
        }

        body.ShouldBe("(delivered; body removed)");
    }

    [Fact]
    public async Task Register_without_required_fields_returns_400_for_each()
    {
        var response = await _api.CreateClient().PostAsJsonAsync(new Uri("/api/v1/auth/register", UriKind.Relative), new { });

        var problem = await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest);
        var text = problem.GetRawText();
        text.ShouldContain("email");
        text.ShouldContain("password");
    }
}
