using Analytics.Redis;
using Microsoft.Extensions.Options;

namespace Analytics.Api.Infrastructure.Redis;

public sealed class RedisStoreOptions
{
    public const string Section = "Redis";

    /// <summary><c>host:port[,password=...,ssl=true,...]</c>; empty selects single-node mode (in-process stores).</summary>
    public string ConnectionString { get; set; } = "";

    public bool IsConfigured => !string.IsNullOrWhiteSpace(ConnectionString);
}

internal sealed class RedisStoreOptionsValidator : IValidateOptions<RedisStoreOptions>
{
    public ValidateOptionsResult Validate(string? name, RedisStoreOptions options)
    {
        if (!options.IsConfigured)
        {
            return ValidateOptionsResult.Success;
        }

        try
        {
            RedisOptions.Parse(options.ConnectionString);
            return ValidateOptionsResult.Success;
        }
        catch (RedisConfigurationException ex)
        {
            return ValidateOptionsResult.Fail($"Redis__ConnectionString is not valid: {ex.Message}");
        }
    }
}

/// <summary>
/// The process's one Redis client. It is created without waiting for the server (abortConnect=false), so the
/// service starts and answers while Redis is down, and reconnects by itself.
/// </summary>
public sealed class RedisLink : IAsyncDisposable
{
    private readonly Lazy<Task<RedisClient>> _client;

    public RedisLink(IOptions<RedisStoreOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var parsed = RedisOptions.Parse(options.Value.ConnectionString) with { AbortConnect = false };
        _client = new Lazy<Task<RedisClient>>(() => RedisClient.ConnectAsync(parsed));
    }

    public Task<RedisClient> ClientAsync() => _client.Value;

    public async ValueTask DisposeAsync()
    {
        if (_client.IsValueCreated)
        {
            await (await _client.Value).DisposeAsync();
        }
    }
}
