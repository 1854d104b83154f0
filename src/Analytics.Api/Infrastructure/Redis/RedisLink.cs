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
/// service starts and answers while Redis is down, and reconnects by itself. What the client cannot throw to a caller
/// (a lost or restored connection and why, dropped pub/sub messages, a failed re-subscription) is logged.
/// </summary>
public sealed partial class RedisLink : IAsyncDisposable
{
    private readonly Lazy<Task<RedisClient>> _client;
    private readonly ILogger<RedisLink> _logger;

    public RedisLink(IOptions<RedisStoreOptions> options, ILogger<RedisLink>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _logger = logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger<RedisLink>.Instance;
        var parsed = RedisOptions.Parse(options.Value.ConnectionString) with { AbortConnect = false };
        _client = new Lazy<Task<RedisClient>>(() => ConnectAsync(parsed));
    }

    public Task<RedisClient> ClientAsync() => _client.Value;

    private async Task<RedisClient> ConnectAsync(RedisOptions options)
    {
        var client = await RedisClient.ConnectAsync(options);
        client.ErrorOccurred += (_, e) => LogClientError(e.Exception, e.Message);
        client.StateChanged += (_, e) =>
        {
            if (e.State is RedisConnectionState.Connected or RedisConnectionState.Disconnected)
            {
                LogStateChanged(e.Role, e.State, e.EndPoint, e.Error?.Message);
            }
        };
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        if (_client.IsValueCreated)
        {
            await (await _client.Value).DisposeAsync();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis: {Message}")]
    private partial void LogClientError(Exception exception, string message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis {Role} connection {State} ({EndPoint}) {Reason}")]
    private partial void LogStateChanged(RedisConnectionRole role, RedisConnectionState state, string? endPoint, string? reason);
}
