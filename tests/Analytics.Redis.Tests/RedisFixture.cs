[assembly: AssemblyFixture(typeof(Analytics.Redis.Tests.RedisFixture))]

namespace Analytics.Redis.Tests;

/// <summary>
/// The server for ordinary tests: <c>Redis__ConnectionString</c> when set, otherwise a private redis-server.
/// Tests that kill servers start their own <see cref="RedisServerProcess"/> instead.
/// </summary>
public sealed class RedisFixture : IAsyncLifetime
{
    private RedisServerProcess? _server;

    public string ConnectionString { get; private set; } = "";

    public async ValueTask InitializeAsync()
    {
        var configured = Environment.GetEnvironmentVariable("Redis__ConnectionString");
        if (!string.IsNullOrWhiteSpace(configured))
        {
            ConnectionString = configured;
            return;
        }

        _server = await RedisServerProcess.StartAsync();
        ConnectionString = _server.EndPoint;
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    public Task<RedisClient> ConnectAsync(Func<RedisOptions, RedisOptions>? configure = null)
    {
        var options = RedisOptions.Parse(ConnectionString);
        return RedisClient.ConnectAsync(configure is null ? options : configure(options), TestContext.Current.CancellationToken);
    }

    /// <summary>A key prefix no other test uses, so tests can share the server without FLUSHALL.</summary>
    public static string UniqueKey(string name) => $"test:{Guid.NewGuid():N}:{name}";
}
