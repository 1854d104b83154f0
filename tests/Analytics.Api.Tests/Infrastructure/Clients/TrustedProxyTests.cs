using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Analytics.Api.Tests.Infrastructure.Clients;

/// <summary>The session's IP comes from the connection, or from X-Forwarded-For only when the connection is a trusted proxy.</summary>
public sealed class TrustedProxyTests(TestDatabase database)
{
    private const string TestRemoteIp = "X-Test-Remote-Ip";

    [Fact]
    public async Task Forwarded_for_is_believed_from_a_trusted_proxy_only()
    {
        await using var api = new ApiFactory(database, new Dictionary<string, string?> { ["Network:TrustedProxies:0"] = "10.0.0.0/8" });
        await using var factory = api.WithWebHostBuilder(b => b.ConfigureServices(s => s.AddSingleton<IStartupFilter>(new RemoteIpFromTestHeader())));
        var client = factory.CreateClient();
        var user = await client.SignUpAsync(database);

        async Task<Guid> LoginFromAsync(string remoteIp)
        {
            client.DefaultRequestHeaders.Remove(TestRemoteIp);
            client.DefaultRequestHeaders.Remove("X-Forwarded-For");
            client.DefaultRequestHeaders.Add(TestRemoteIp, remoteIp);
            client.DefaultRequestHeaders.Add("X-Forwarded-For", "203.0.113.7");
            var body = await (await client.LoginAsync(user.Email)).JsonAsync();
            return Guid.Parse(body.GetProperty("sessionId").GetString()!);
        }

        var viaProxy = await LoginFromAsync("10.1.2.3");
        var direct = await LoginFromAsync("198.51.100.9");

        (await database.ScalarAsync<string>("select host(ip) from sessions where id = @viaProxy", new { viaProxy })).ShouldBe("203.0.113.7");
        (await database.ScalarAsync<string>("select host(ip) from sessions where id = @direct", new { direct })).ShouldBe("198.51.100.9");
    }

    [Fact]
    public async Task Without_trusted_proxies_forwarded_for_is_ignored()
    {
        await using var api = new ApiFactory(database);
        var client = api.CreateClient();
        var user = await client.SignUpAsync(database);
        client.DefaultRequestHeaders.Add("X-Forwarded-For", "203.0.113.7");

        var body = await (await client.LoginAsync(user.Email)).JsonAsync();

        var sessionId = Guid.Parse(body.GetProperty("sessionId").GetString()!);
        (await database.ScalarAsync<string?>("select host(ip) from sessions where id = @sessionId", new { sessionId })).ShouldNotBe("203.0.113.7");
    }

    [Fact]
    public async Task Per_address_limits_count_an_IPv6_client_by_its_64_network()
    {
        await using var api = new ApiFactory(database, new Dictionary<string, string?> { ["SignIn:MaxRegistrationsPerIp"] = "2", ["Redis:ConnectionString"] = "" });
        await using var factory = api.WithWebHostBuilder(b => b.ConfigureServices(s => s.AddSingleton<IStartupFilter>(new RemoteIpFromTestHeader())));
        var client = factory.CreateClient();

        Task<HttpResponseMessage> RegisterFromAsync(string remoteIp)
        {
            client.DefaultRequestHeaders.Remove(TestRemoteIp);
            client.DefaultRequestHeaders.Add(TestRemoteIp, remoteIp);
            return client.RegisterAsync(Accounts.NewEmail());
        }

        (await RegisterFromAsync("2001:db8:1:2::1")).StatusCode.ShouldBe(HttpStatusCode.Created);
        (await RegisterFromAsync("2001:db8:1:2:ffff:ffff:ffff:fffe")).StatusCode.ShouldBe(HttpStatusCode.Created);

        await (await RegisterFromAsync("2001:db8:1:2:abcd::9")).ShouldBeProblemAsync(HttpStatusCode.TooManyRequests);
        (await RegisterFromAsync("2001:db8:1:3::1")).StatusCode.ShouldBe(HttpStatusCode.Created);
        (await RegisterFromAsync("::ffff:198.51.100.9")).StatusCode.ShouldBe(HttpStatusCode.Created);
        (await RegisterFromAsync("198.51.100.9")).StatusCode.ShouldBe(HttpStatusCode.Created);
        await (await RegisterFromAsync("198.51.100.9")).ShouldBeProblemAsync(HttpStatusCode.TooManyRequests);
    }

    /// <summary>The in-memory test server has no socket: let the test say which address the connection comes from.</summary>
    private sealed class RemoteIpFromTestHeader : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((context, nextMiddleware) =>
            {
                if (context.Request.Headers.TryGetValue(TestRemoteIp, out var ip))
                {
                    context.Connection.RemoteIpAddress = IPAddress.Parse(ip.ToString());
                }

                return nextMiddleware(context);
            });
            next(app);
        };
    }
}
