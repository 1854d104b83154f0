using System.Globalization;
using System.Text;

namespace Analytics.Redis;

/// <summary>
/// Client settings. <see cref="Parse"/> accepts the StackExchange.Redis connection string format:
/// <c>host:port[,host2:port2],password=...,user=...,ssl=true|false,sslHost=...,defaultDatabase=N,
/// connectTimeout=ms,syncTimeout=ms,abortConnect=true|false</c>. As there, a password cannot contain ','.
/// </summary>
public sealed record RedisOptions
{
    public const int DefaultPort = 6379;
    public const int DefaultSslPort = 6380;

    /// <summary>Servers tried in order; the first reachable one is used.</summary>
    public IReadOnlyList<RedisEndPoint> EndPoints { get; init; } = [];

    public string? User { get; init; }

    public string? Password { get; init; }

    public bool Ssl { get; init; }

    /// <summary>Host name validated against the server certificate; defaults to the endpoint host.</summary>
    public string? SslHost { get; init; }

    /// <summary>Database selected with SELECT on every (re)connect.</summary>
    public int DefaultDatabase { get; init; }

    /// <summary>Limit for TCP connect, TLS handshake and AUTH/SELECT of one connection attempt.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Time after which a command that got no reply fails with <see cref="TimeoutException"/>.</summary>
    public TimeSpan SyncTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// When true (the default), <see cref="RedisClient.ConnectAsync(RedisOptions, CancellationToken)"/> throws if no
    /// server is reachable; when false it returns a disconnected client that keeps retrying in the background.
    /// </summary>
    public bool AbortConnect { get; init; } = true;

    /// <summary>First delay of the exponential reconnect backoff.</summary>
    public TimeSpan ReconnectMinDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Upper bound of the exponential reconnect backoff.</summary>
    public TimeSpan ReconnectMaxDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Messages each subscription buffers for a handler that falls behind. When full, the oldest are dropped and the
    /// number dropped is reported through <see cref="RedisClient.ErrorOccurred"/>.
    /// </summary>
    public int SubscriptionQueueCapacity { get; init; } = 10_000;

    /// <exception cref="RedisConfigurationException">The string is malformed; the message names the bad part.</exception>
    public static RedisOptions Parse(string connectionString)
    {
        ArgumentNullException.ThrowIfNull(connectionString);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new RedisConfigurationException("The Redis connection string is empty.");
        }

        var options = new RedisOptions();
        var hosts = new List<(string Host, int? Port)>();
        var afterPassword = false;
        foreach (var rawPart in connectionString.Split(','))
        {
            var part = rawPart.Trim();
            if (part.Length == 0)
            {
                continue;
            }

            var equals = part.IndexOf('=', StringComparison.Ordinal);
            var key = equals < 0 ? null : part[..equals].Trim();
            try
            {
                if (key is null)
                {
                    hosts.Add(ParseEndPoint(part));
                }
                else
                {
                    options = ApplyOption(options, key, part[(equals + 1)..].Trim());
                }
            }
            catch (RedisConfigurationException) when (afterPassword)
            {
                // The bad part is most likely the rest of a password containing ','. Connection strings reach
                // startup logs, so the message must not repeat any of it.
                throw new RedisConfigurationException(
                    "The Redis connection string has an unrecognised part after 'password='; passwords cannot contain ','.");
            }

            afterPassword = string.Equals(key, "password", StringComparison.OrdinalIgnoreCase);
        }

        if (hosts.Count == 0)
        {
            throw new RedisConfigurationException("The Redis connection string contains no host:port endpoint.");
        }

        var defaultPort = options.Ssl ? DefaultSslPort : DefaultPort;
        return options with { EndPoints = hosts.ConvertAll(h => new RedisEndPoint(h.Host, h.Port ?? defaultPort)) };
    }

    /// <summary>The equivalent connection string with the password masked, safe for logs.</summary>
    public override string ToString()
    {
        var builder = new StringBuilder(string.Join(",", EndPoints));
        if (User is not null)
        {
            builder.Append(",user=").Append(User);
        }

        if (Password is not null)
        {
            builder.Append(",password=*****");
        }

        builder.Append(CultureInfo.InvariantCulture, $",ssl={(Ssl ? "true" : "false")}");
        if (SslHost is not null)
        {
            builder.Append(",sslHost=").Append(SslHost);
        }

        builder.Append(CultureInfo.InvariantCulture, $",defaultDatabase={DefaultDatabase}")
            .Append(CultureInfo.InvariantCulture, $",connectTimeout={(long)ConnectTimeout.TotalMilliseconds}")
            .Append(CultureInfo.InvariantCulture, $",syncTimeout={(long)SyncTimeout.TotalMilliseconds}")
            .Append(CultureInfo.InvariantCulture, $",abortConnect={(AbortConnect ? "true" : "false")}");
        return builder.ToString();
    }

    private static RedisOptions ApplyOption(RedisOptions options, string key, string value)
    {
        switch (key.ToUpperInvariant())
        {
            case "PASSWORD":
                return options with { Password = value };
            case "USER":
                return options with { User = RequireValue(key, value) };
            case "SSL":
                return options with { Ssl = ParseBool(key, value) };
            case "SSLHOST":
                return options with { SslHost = RequireValue(key, value) };
            case "DEFAULTDATABASE":
                return options with { DefaultDatabase = ParseInt(key, value, min: 0) };
            case "CONNECTTIMEOUT":
                return options with { ConnectTimeout = TimeSpan.FromMilliseconds(ParseInt(key, value, min: 1)) };
            case "SYNCTIMEOUT":
                return options with { SyncTimeout = TimeSpan.FromMilliseconds(ParseInt(key, value, min: 1)) };
            case "ABORTCONNECT":
                return options with { AbortConnect = ParseBool(key, value) };
            default:
                throw new RedisConfigurationException($"Unsupported option '{key}' in the Redis connection string.");
        }
    }

    private static (string Host, int? Port) ParseEndPoint(string part)
    {
        string host;
        string? port = null;
        if (part.StartsWith('['))
        {
            // IPv6 literal: [::1] or [::1]:6379
            var close = part.IndexOf(']', StringComparison.Ordinal);
            if (close < 2 || (close + 1 < part.Length && part[close + 1] != ':'))
            {
                throw new RedisConfigurationException($"Invalid endpoint '{part}' in the Redis connection string.");
            }

            host = part[1..close];
            if (close + 1 < part.Length)
            {
                port = part[(close + 2)..];
            }
        }
        else
        {
            var colon = part.LastIndexOf(':');
            if (colon >= 0 && part.IndexOf(':', StringComparison.Ordinal) != colon)
            {
                throw new RedisConfigurationException($"Invalid endpoint '{part}': IPv6 addresses must be written as [address]:port.");
            }

            host = colon < 0 ? part : part[..colon];
            port = colon < 0 ? null : part[(colon + 1)..];
        }

        if (host.Length == 0 || host.Any(char.IsWhiteSpace))
        {
            throw new RedisConfigurationException($"Invalid host in endpoint '{part}' in the Redis connection string.");
        }

        if (port is null)
        {
            return (host, null);
        }

        if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var portNumber) || portNumber is < 1 or > 65535)
        {
            throw new RedisConfigurationException($"Invalid port '{port}' in endpoint '{part}' in the Redis connection string.");
        }

        return (host, portNumber);
    }

    private static string RequireValue(string key, string value) =>
        value.Length > 0 ? value : throw new RedisConfigurationException($"Option '{key}' in the Redis connection string has no value.");

    private static bool ParseBool(string key, string value) =>
        bool.TryParse(value, out var result)
            ? result
            : throw new RedisConfigurationException($"Option '{key}' expects true or false but got '{value}'.");

    private static int ParseInt(string key, string value, int min) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var result) && result >= min
            ? result
            : throw new RedisConfigurationException($"Option '{key}' expects an integer >= {min} but got '{value}'.");
}
