using System.Net;
using System.Net.Http.Json;

namespace Analytics.Api.Tests.Infrastructure.Http;

/// <summary>Every answer, errors and the HTML pages included, refuses sniffing, framing and Referer; endpoint answers are not cached.</summary>
public sealed class SecurityHeadersTests(TestDatabase database) : IAsyncLifetime
{
    private readonly ApiFactory _api = new(database);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _api.DisposeAsync();

    [Fact]
    public async Task Token_answers_errors_and_pages_carry_the_headers()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);

        var login = await client.LoginAsync(user.Email);
        var validation = await client.PostAsJsonAsync("/api/v1/auth/login", new { email = "", password = "" });
        var page = await client.GetAsync("/activate?token=abc");
        var unrouted = await client.GetAsync("/no-such-file.js");

        login.StatusCode.ShouldBe(HttpStatusCode.OK);
        validation.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        page.StatusCode.ShouldBe(HttpStatusCode.OK);
        foreach (var response in new[] { login, validation, page })
        {
            response.Headers.GetValues("X-Content-Type-Options").ShouldBe(["nosniff"]);
            response.Headers.GetValues("X-Frame-Options").ShouldBe(["DENY"]);
            response.Headers.GetValues("Content-Security-Policy").ShouldBe(["frame-ancestors 'none'"]);
            response.Headers.GetValues("Referrer-Policy").ShouldBe(["no-referrer"]);
            response.Headers.CacheControl!.NoStore.ShouldBeTrue();
        }

        // What no endpoint answers (static files, this 404) keeps the server's caching.
        unrouted.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        unrouted.Headers.GetValues("X-Content-Type-Options").ShouldBe(["nosniff"]);
        (unrouted.Headers.CacheControl?.NoStore ?? false).ShouldBeFalse();
    }
}
