using System.Net;
using System.Text.Json;

namespace Analytics.Api.Tests.Infrastructure.OpenApi;

public sealed class ApiDocumentsTests(TestDatabase database)
{
    [Fact]
    public async Task OpenApi_document_is_3_1_with_both_security_schemes_and_the_health_endpoints()
    {
        await using var api = new ApiFactory(database);

        var response = await api.CreateClient().GetAsync(new Uri("/openapi/v1.json", UriKind.Relative));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        document.GetProperty("openapi").GetString()!.ShouldStartWith("3.1");
        var schemes = document.GetProperty("components").GetProperty("securitySchemes");
        schemes.GetProperty("Bearer").GetProperty("scheme").GetString().ShouldBe("bearer");
        schemes.GetProperty("ApiKey").GetProperty("name").GetString().ShouldBe("X-Api-Key");
        var ready = document.GetProperty("paths").GetProperty("/health/ready").GetProperty("get").GetProperty("responses");
        ready.TryGetProperty("200", out _).ShouldBeTrue();
        ready.TryGetProperty("503", out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Every_api_operation_documents_its_error_responses_its_503_and_secured_ones_their_401_and_scheme()
    {
        await using var api = new ApiFactory(database);

        var document = JsonDocument.Parse(await api.CreateClient().GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative))).RootElement;

        var operations = document.GetProperty("paths").EnumerateObject()
            .Where(p => p.Name.StartsWith("/api/v1/", StringComparison.Ordinal))
            .SelectMany(p => p.Value.EnumerateObject().Select(o => (Path: p.Name, Method: o.Name, Operation: o.Value)))
            .ToList();
        operations.Count.ShouldBeGreaterThan(25);
        foreach (var (path, method, operation) in operations)
        {
            var responses = operation.GetProperty("responses").EnumerateObject().Select(r => r.Name).ToList();
            responses.ShouldContain(r => r.StartsWith('2'), $"{method} {path} documents no success");
            responses.ShouldContain(r => r.StartsWith('4'), $"{method} {path} documents no error");
            if (operation.TryGetProperty("security", out _))
            {
                responses.ShouldContain("401", $"{method} {path} is secured but documents no 401");
            }

            // When PostgreSQL does not answer (ADR 16).
            operation.GetProperty("responses").TryGetProperty("503", out var unavailable).ShouldBeTrue($"{method} {path} documents no 503");
            unavailable.GetProperty("content").GetProperty("application/problem+json").GetProperty("schema").GetRawText().ShouldContain("ProblemDetails");
            unavailable.GetProperty("headers").TryGetProperty("Retry-After", out _).ShouldBeTrue($"{method} {path}: 503 without Retry-After");
        }

        var track = document.GetProperty("paths").GetProperty("/api/v1/events").GetProperty("post");
        track.GetProperty("security").GetRawText().ShouldContain("ApiKey");
        document.GetProperty("paths").GetProperty("/api/v1/auth/login").GetProperty("post").GetProperty("requestBody").GetProperty("content").TryGetProperty("application/json", out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Scalar_page_is_served_with_the_bundle_or_says_how_to_build_it()
    {
        await using var api = new ApiFactory(database);
        var client = api.CreateClient();

        var response = await client.GetAsync(new Uri("/scalar", UriKind.Relative));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Content.Headers.ContentType?.MediaType.ShouldBe("text/html");
        var page = await response.Content.ReadAsStringAsync();
        var bundle = await client.GetAsync(new Uri("/scalar/standalone.js", UriKind.Relative));
        if (bundle.StatusCode == HttpStatusCode.OK)
        {
            page.ShouldContain("/openapi/v1.json");
            page.ShouldContain("/scalar/standalone.js");
            bundle.Content.Headers.ContentType?.MediaType.ShouldBe("text/javascript");
        }
        else
        {
            page.ShouldContain("npm run build --prefix web");
        }
    }
}
