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
    public async Task Ready_with_postgres_up_returns_200_with_latency_and_for_an_admin_pool_figures()
    {
        await using var api = new ApiFactory(database);
        var client = api.CreateClient();
        var admin = await client.SignUpAdminAsync(database);

        var anonymous = JsonDocument.Parse(await (await client.GetAsync(new Uri("/health/ready", UriKind.Relative))).Content.ReadAsStringAsync()).RootElement;
        var response = await client.SendAsync(HttpMethod.Get.Authorized("/health/ready", admin.AccessToken));

        var withheld = anonymous.GetProperty("dependencies").GetProperty("postgres");
        withheld.GetProperty("status").GetString().ShouldBe("healthy");
        withheld.GetProperty("details").ValueKind.ShouldBe(JsonValueKind.Null);
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
        await using var api = ApiFactory.WithUnreachablePostgres(database, new Dictionary<string, string?> { ["Health:PublicDetails"] = "true" });

        var response = await api.CreateClient().GetAsync(new Uri("/health/ready", UriKind.Relative));

        response.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        body.GetProperty("status").GetString().ShouldBe("unhealthy");
        var postgres = body.GetProperty("dependencies").GetProperty("postgres");
        postgres.GetProperty("status").GetString().ShouldBe("unhealthy");
        postgres.GetProperty("error").GetString().ShouldNotBeNullOrWhiteSpace();
    }

    [Fact]
    public async Task Ready_with_postgres_down_names_it_to_anyone_but_keeps_its_error_to_admins()
    {
        await using var api = ApiFactory.WithUnreachablePostgres(database);

        var response = await api.CreateClient().GetAsync(new Uri("/health/ready", UriKind.Relative));

        response.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        var postgres = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("dependencies").GetProperty("postgres");
        postgres.GetProperty("status").GetString().ShouldBe("unhealthy");
        postgres.GetProperty("error").ValueKind.ShouldBe(JsonValueKind.Null);
    }

    [Fact]
    public async Task Ready_reports_redis_healthy_when_configured_and_up()
    {
        await using var api = new ApiFactory(database, new Dictionary<string, string?> { ["Health:PublicDetails"] = "true" });

        var body = JsonDocument.Parse(await (await api.CreateClient().GetAsync(new Uri("/health/ready", UriKind.Relative))).Content.ReadAsStringAsync()).RootElement;

        var redis = body.GetProperty("dependencies").GetProperty("redis");
        redis.GetProperty("status").GetString().ShouldBe("healthy");
        redis.GetProperty("details").GetProperty("state").GetString().ShouldBe("connected");
    }

    [Fact]
    public async Task Ready_with_redis_down_is_still_200_and_reports_redis_degraded()
    {
        await using var api = new ApiFactory(database, new Dictionary<string, string?> { ["Redis:ConnectionString"] = "127.0.0.1:1,connectTimeout=200" });

        var response = await api.CreateClient().GetAsync(new Uri("/health/ready", UriKind.Relative));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        body.GetProperty("status").GetString().ShouldBe("degraded");
        body.GetProperty("dependencies").GetProperty("redis").GetProperty("status").GetString().ShouldBe("degraded");
    }

    [Fact]
    public async Task Ready_with_redis_hanging_is_still_200_and_reports_redis_degraded()
    {
        await using var redis = await RedisServerProcess.StartAsync();
        await using var api = new ApiFactory(database, new Dictionary<string, string?> { ["Redis:ConnectionString"] = $"{redis.EndPoint},connectTimeout=200" });
        var client = api.CreateClient();
        (await client.GetAsync(new Uri("/health/ready", UriKind.Relative))).StatusCode.ShouldBe(HttpStatusCode.OK);

        // Connected, but answering nothing (a frozen host): the ping outlasts the readiness check's 3 s.
        await using (var admin = await redis.ConnectAsync())
        {
            await admin.ExecuteAsync("CLIENT", "PAUSE", 8000, "ALL");
        }

        var response = await client.GetAsync(new Uri("/health/ready", UriKind.Relative));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        body.GetProperty("dependencies").GetProperty("redis").GetProperty("status").GetString().ShouldBe("degraded");
    }

    [Fact]
    public async Task Sign_in_keeps_working_while_redis_is_down()
    {
        await using var api = new ApiFactory(database, new Dictionary<string, string?> { ["Redis:ConnectionString"] = "127.0.0.1:1,connectTimeout=200" });
        var client = api.CreateClient();

        var user = await client.SignUpAsync(database);

        (await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/auth/me", user.AccessToken))).StatusCode.ShouldBe(HttpStatusCode.OK);
    }
}
