using System.Net;
using System.Text.Json;
using Analytics.Api.Tests.Infrastructure;

namespace Analytics.Api.Tests.Features.Health;

public sealed class HealthTests(TestDatabase database)
{
    [Fact]
    public async Task Live_returns_200()
    {
        await using var api = new ApiFactory(database);

        var response = await api.CreateClient().GetAsync(new Uri("/health/live", UriKind.Relative));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("status").GetString().ShouldBe("healthy");
    }

    [Fact]
    public async Task Ready_with_postgres_up_returns_200_with_latency_and_pool_figures()
    {
        await using var api = new ApiFactory(database);

        var response = await api.CreateClient().GetAsync(new Uri("/health/ready", UriKind.Relative));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        body.GetProperty("status").GetString().ShouldBe("healthy");
        var postgres = body.GetProperty("dependencies").GetProperty("postgres");
        postgres.GetProperty("status").GetString().ShouldBe("healthy");
        postgres.GetProperty("latencyMs").GetDouble().ShouldBeGreaterThan(0);
        postgres.GetProperty("details").GetProperty("poolMax").GetInt64().ShouldBeGreaterThan(0);
        (postgres.GetProperty("details").GetProperty("poolIdle").GetInt64() + postgres.GetProperty("details").GetProperty("poolBusy").GetInt64()).ShouldBeGreaterThan(0);
    }

    [Fact]
    public async Task Ready_with_postgres_on_a_closed_port_returns_503_naming_postgres()
    {
        await using var api = new ApiFactory(database, new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = "Host=127.0.0.1;Port=1;Username=postgres;Timeout=2",
            ["Database:MigrateOnStart"] = "false",
        });

        var response = await api.CreateClient().GetAsync(new Uri("/health/ready", UriKind.Relative));

        response.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        body.GetProperty("status").GetString().ShouldBe("unhealthy");
        var postgres = body.GetProperty("dependencies").GetProperty("postgres");
        postgres.GetProperty("status").GetString().ShouldBe("unhealthy");
        postgres.GetProperty("error").GetString().ShouldNotBeNullOrWhiteSpace();
    }
}
