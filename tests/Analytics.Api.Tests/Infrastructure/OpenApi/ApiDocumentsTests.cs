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
            if (operation.TryGetProperty("requestBody", out _))
            {
                responses.ShouldContain("413", $"{method} {path} takes a body but documents no 413");
                responses.ShouldContain("415", $"{method} {path} takes a body but documents no 415");
            }

            foreach (var (status, header) in (ReadOnlySpan<(string, string)>)[("201", "Location"), ("423", "Retry-After"), ("429", "Retry-After")])
            {
                if (operation.GetProperty("responses").TryGetProperty(status, out var answer))
                {
                    answer.GetProperty("headers").TryGetProperty(header, out _).ShouldBeTrue($"{method} {path}: {status} without {header}");
                }
            }
        }

        var track = document.GetProperty("paths").GetProperty("/api/v1/events").GetProperty("post");
        track.GetProperty("security").GetRawText().ShouldContain("ApiKey");
        document.GetProperty("paths").GetProperty("/api/v1/auth/login").GetProperty("post").GetProperty("requestBody").GetProperty("content").TryGetProperty("application/json", out _).ShouldBeTrue();
    }

    [Theory]
    [InlineData("/api/v1/auth/register", "post", "request", "email,password,displayName")]
    [InlineData("/api/v1/auth/login", "post", "request", "email,password,countryCode")]
    [InlineData("/api/v1/auth/login", "post", "200", "accessToken,refreshToken")]
    [InlineData("/api/v1/auth/refresh", "post", "request", "refreshToken")]
    [InlineData("/api/v1/users/me/password", "post", "request", "currentPassword,newPassword")]
    [InlineData("/api/v1/api-keys", "post", "request", "name")]
    [InlineData("/api/v1/admin/users/{id}", "patch", "request", "role,status,unlock")]
    [InlineData("/api/v1/events", "post", "request", "type,name,properties")]
    [InlineData("/api/v1/events", "post", "202", "id,status")]
    [InlineData("/api/v1/admin/dashboard", "get", "200", "totals,series,fromCache")]
    [InlineData("/api/v1/admin/users", "get", "200", "items,nextCursor")]
    [InlineData("/api/v1/users/me/activity", "get", "200", "items,nextBefore")]
    public async Task Each_operation_points_at_its_own_request_and_response_schema(string path, string method, string part, string properties)
    {
        var schema = await JsonSchemaAsync(path, method, part);

        // Types of the same short name (every slice's Command, Response, Page) must not share one schema.
        var names = schema.GetProperty("properties").EnumerateObject().Select(p => p.Name).ToList();
        foreach (var property in properties.Split(','))
        {
            names.ShouldContain(property, $"{method} {path} {part}: {schema.GetRawText()}");
        }
    }

    [Fact]
    public async Task The_batchs_all_rejected_400_and_the_streams_query_credentials_are_documented()
    {
        var rejected = await JsonSchemaAsync("/api/v1/events/batch", "post", "400");
        rejected.GetProperty("properties").TryGetProperty("items", out _).ShouldBeTrue(rejected.GetRawText());

        await using var api = new ApiFactory(database);
        var document = JsonDocument.Parse(await api.CreateClient().GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative))).RootElement;
        var batch400 = document.GetProperty("paths").GetProperty("/api/v1/events/batch").GetProperty("post").GetProperty("responses").GetProperty("400").GetProperty("content");
        batch400.TryGetProperty("application/problem+json", out _).ShouldBeTrue("a malformed batch is still a ProblemDetails");
        var stream = document.GetProperty("paths").GetProperty("/api/v1/events/stream").GetProperty("get");
        stream.GetProperty("parameters").EnumerateArray().Where(p => p.GetProperty("in").GetString() == "query").Select(p => p.GetProperty("name").GetString())
            .ShouldContain("access_token");
        stream.GetProperty("parameters").EnumerateArray().Select(p => p.GetProperty("name").GetString()).ShouldContain("api_key");
    }

    [Theory]
    [InlineData("/api/v1/auth/register", "email,password")]
    [InlineData("/api/v1/auth/login", "email,password")]
    [InlineData("/api/v1/auth/refresh", "refreshToken")]
    [InlineData("/api/v1/users/me/password", "currentPassword,newPassword")]
    [InlineData("/api/v1/api-keys", "name")]
    [InlineData("/api/v1/events", "type")]
    [InlineData("/api/v1/events/batch", "events")]
    public async Task Request_fields_the_server_requires_are_required_in_the_schema(string path, string required)
    {
        var schema = await JsonSchemaAsync(path, "post", "request");

        schema.GetProperty("required").EnumerateArray().Select(r => r.GetString()).ShouldBe(required.Split(','), ignoreOrder: true, schema.GetRawText());
    }

    // The JSON schema of an operation's request body ("request") or of one of its responses ("200", ...), references followed.
    private async Task<JsonElement> JsonSchemaAsync(string path, string method, string part)
    {
        await using var api = new ApiFactory(database);
        var document = JsonDocument.Parse(await api.CreateClient().GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative))).RootElement;
        var operation = document.GetProperty("paths").GetProperty(path).GetProperty(method);
        var content = part == "request" ? operation.GetProperty("requestBody").GetProperty("content") : operation.GetProperty("responses").GetProperty(part).GetProperty("content");
        return Resolve(document, content.GetProperty("application/json").GetProperty("schema"));
    }

    private static JsonElement Resolve(JsonElement document, JsonElement schema)
    {
        while (schema.TryGetProperty("$ref", out var reference))
        {
            schema = document.GetProperty("components").GetProperty("schemas").GetProperty(reference.GetString()!.Split('/')[^1]);
        }

        return schema;
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
