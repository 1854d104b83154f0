using System.Diagnostics;
using Analytics.Redis.Internal;

namespace Analytics.Redis;

/// <summary>Condition of a SET.</summary>
public enum RedisSetCondition
{
    Always,

    /// <summary>NX: only set a key that does not exist.</summary>
    IfNotExists,

    /// <summary>XX: only set a key that already exists.</summary>
    IfExists,
}

public sealed partial class RedisClient
{
    /// <summary>PING; returns the round-trip time.</summary>
    public async ValueTask<TimeSpan> PingAsync(CancellationToken cancellationToken = default)
    {
        var started = Stopwatch.GetTimestamp();
        await SendPing(cancellationToken).ConfigureAwait(false);
        return Stopwatch.GetElapsedTime(started);

        ValueTask SendPing(CancellationToken cancellationToken)
        {
            var builder = new CommandBuilder("PING", 0);
            return SendAsync(ref builder, cancellationToken);
        }
    }

    /// <summary>GET; null when the key does not exist.</summary>
    public ValueTask<byte[]?> GetAsync(string key, CancellationToken cancellationToken = default) =>
        KeyCommand("GET", key, ReplyMappers.Bytes, cancellationToken);

    /// <summary>GET decoded as UTF-8; null when the key does not exist.</summary>
    public ValueTask<string?> GetStringAsync(string key, CancellationToken cancellationToken = default) =>
        KeyCommand("GET", key, ReplyMappers.String, cancellationToken);

    /// <summary>GETDEL; null when the key does not exist.</summary>
    public ValueTask<byte[]?> GetDeleteAsync(string key, CancellationToken cancellationToken = default) =>
        KeyCommand("GETDEL", key, ReplyMappers.Bytes, cancellationToken);

    /// <summary>GETDEL decoded as UTF-8; null when the key does not exist.</summary>
    public ValueTask<string?> GetDeleteStringAsync(string key, CancellationToken cancellationToken = default) =>
        KeyCommand("GETDEL", key, ReplyMappers.String, cancellationToken);

    /// <summary>SET with optional expiry (EX, or PX for sub-second precision) and NX/XX condition.</summary>
    /// <returns>False when the NX/XX condition prevented the write.</returns>
    public ValueTask<bool> SetAsync(
        string key,
        ReadOnlyMemory<byte> value,
        TimeSpan? expiry = null,
        RedisSetCondition condition = RedisSetCondition.Always,
        CancellationToken cancellationToken = default)
    {
        var builder = BeginSet(key, expiry, condition);
        builder.Add(value.Span);
        return EndSet(ref builder, expiry, condition, cancellationToken);
    }

    /// <inheritdoc cref="SetAsync(string, ReadOnlyMemory{byte}, TimeSpan?, RedisSetCondition, CancellationToken)"/>
    public ValueTask<bool> SetAsync(
        string key,
        string value,
        TimeSpan? expiry = null,
        RedisSetCondition condition = RedisSetCondition.Always,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        var builder = BeginSet(key, expiry, condition);
        builder.Add(value);
        return EndSet(ref builder, expiry, condition, cancellationToken);
    }

    /// <summary>DEL of one key; true if it existed.</summary>
    public ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default) =>
        KeyCommand("DEL", key, ReplyMappers.IntegerIsNonZero, cancellationToken);

    /// <summary>DEL; returns the number of keys removed.</summary>
    public ValueTask<long> DeleteAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default) =>
        KeysCommand("DEL", keys, cancellationToken);

    /// <summary>UNLINK (non-blocking delete) of one key; true if it existed.</summary>
    public ValueTask<bool> UnlinkAsync(string key, CancellationToken cancellationToken = default) =>
        KeyCommand("UNLINK", key, ReplyMappers.IntegerIsNonZero, cancellationToken);

    /// <summary>UNLINK; returns the number of keys removed.</summary>
    public ValueTask<long> UnlinkAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default) =>
        KeysCommand("UNLINK", keys, cancellationToken);

    public ValueTask<bool> ExistsAsync(string key, CancellationToken cancellationToken = default) =>
        KeyCommand("EXISTS", key, ReplyMappers.IntegerIsNonZero, cancellationToken);

    /// <summary>EXISTS; returns how many of the keys exist (a key listed twice counts twice).</summary>
    public ValueTask<long> ExistsAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default) =>
        KeysCommand("EXISTS", keys, cancellationToken);

    /// <summary>EXPIRE, or PEXPIRE when <paramref name="expiry"/> has sub-second precision; false if the key does not exist.</summary>
    public ValueTask<bool> ExpireAsync(string key, TimeSpan expiry, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        var (command, amount) = ExpiryArgument(expiry, "EXPIRE", "PEXPIRE");
        var builder = new CommandBuilder(command, 2);
        builder.Add(key);
        builder.Add(amount);
        return SendAsync(ref builder, ReplyMappers.IntegerIsNonZero, cancellationToken);
    }

    /// <summary>INCR, or INCRBY when <paramref name="by"/> is not 1; returns the new value.</summary>
    public ValueTask<long> IncrementAsync(string key, long by = 1, CancellationToken cancellationToken = default)
    {
        if (by == 1)
        {
            return KeyCommand("INCR", key, ReplyMappers.Int64, cancellationToken);
        }

        ArgumentNullException.ThrowIfNull(key);
        var builder = new CommandBuilder("INCRBY", 2);
        builder.Add(key);
        builder.Add(by);
        return SendAsync(ref builder, ReplyMappers.Int64, cancellationToken);
    }

    /// <summary>LPUSH of one value; returns the new list length.</summary>
    public ValueTask<long> ListLeftPushAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        var builder = new CommandBuilder("LPUSH", 2);
        builder.Add(key);
        builder.Add(value.Span);
        return SendAsync(ref builder, ReplyMappers.Int64, cancellationToken);
    }

    /// <inheritdoc cref="ListLeftPushAsync(string, ReadOnlyMemory{byte}, CancellationToken)"/>
    public ValueTask<long> ListLeftPushAsync(string key, string value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        var builder = new CommandBuilder("LPUSH", 2);
        builder.Add(key);
        builder.Add(value);
        return SendAsync(ref builder, ReplyMappers.Int64, cancellationToken);
    }

    /// <summary>LTRIM: keeps the elements from <paramref name="start"/> to <paramref name="stop"/> (inclusive, negative from the end).</summary>
    public ValueTask ListTrimAsync(string key, long start, long stop, CancellationToken cancellationToken = default)
    {
        var builder = RangeCommand("LTRIM", key, start, stop);
        return SendAsync(ref builder, cancellationToken);
    }

    /// <summary>LRANGE (inclusive indexes, negative from the end).</summary>
    public ValueTask<byte[][]> ListRangeAsync(string key, long start = 0, long stop = -1, CancellationToken cancellationToken = default)
    {
        var builder = RangeCommand("LRANGE", key, start, stop);
        return SendAsync(ref builder, ReplyMappers.BytesArray, cancellationToken);
    }

    /// <summary>LRANGE decoded as UTF-8.</summary>
    public ValueTask<string[]> ListRangeStringAsync(string key, long start = 0, long stop = -1, CancellationToken cancellationToken = default)
    {
        var builder = RangeCommand("LRANGE", key, start, stop);
        return SendAsync(ref builder, ReplyMappers.StringArray, cancellationToken);
    }

    /// <summary>ZADD of one member; true if it was added, false if only its score was updated.</summary>
    public ValueTask<bool> SortedSetAddAsync(string key, ReadOnlyMemory<byte> member, double score, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        var builder = new CommandBuilder("ZADD", 3);
        builder.Add(key);
        builder.Add(score);
        builder.Add(member.Span);
        return SendAsync(ref builder, ReplyMappers.IntegerIsNonZero, cancellationToken);
    }

    /// <inheritdoc cref="SortedSetAddAsync(string, ReadOnlyMemory{byte}, double, CancellationToken)"/>
    public ValueTask<bool> SortedSetAddAsync(string key, string member, double score, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(member);
        var builder = new CommandBuilder("ZADD", 3);
        builder.Add(key);
        builder.Add(score);
        builder.Add(member);
        return SendAsync(ref builder, ReplyMappers.IntegerIsNonZero, cancellationToken);
    }

    /// <summary>
    /// ZREMRANGEBYSCORE with inclusive bounds (infinities allowed); returns the number of members removed.
    /// </summary>
    public ValueTask<long> SortedSetRemoveRangeByScoreAsync(string key, double min, double max, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        var builder = new CommandBuilder("ZREMRANGEBYSCORE", 3);
        builder.Add(key);
        builder.Add(min);
        builder.Add(max);
        return SendAsync(ref builder, ReplyMappers.Int64, cancellationToken);
    }

    /// <summary>ZCARD.</summary>
    public ValueTask<long> SortedSetLengthAsync(string key, CancellationToken cancellationToken = default) =>
        KeyCommand("ZCARD", key, ReplyMappers.Int64, cancellationToken);

    /// <summary>HSET of one field; true if the field is new.</summary>
    public ValueTask<bool> HashSetAsync(string key, string field, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(field);
        var builder = new CommandBuilder("HSET", 3);
        builder.Add(key);
        builder.Add(field);
        builder.Add(value.Span);
        return SendAsync(ref builder, ReplyMappers.IntegerIsNonZero, cancellationToken);
    }

    /// <inheritdoc cref="HashSetAsync(string, string, ReadOnlyMemory{byte}, CancellationToken)"/>
    public ValueTask<bool> HashSetAsync(string key, string field, string value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(field);
        ArgumentNullException.ThrowIfNull(value);
        var builder = new CommandBuilder("HSET", 3);
        builder.Add(key);
        builder.Add(field);
        builder.Add(value);
        return SendAsync(ref builder, ReplyMappers.IntegerIsNonZero, cancellationToken);
    }

    /// <summary>HSET of several fields; returns the number of fields that were new.</summary>
    public ValueTask<long> HashSetAsync(
        string key, IReadOnlyCollection<KeyValuePair<string, string>> fields, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(fields);
        ArgumentOutOfRangeException.ThrowIfZero(fields.Count);
        var builder = new CommandBuilder("HSET", 1 + (2 * fields.Count));
        builder.Add(key);
        foreach (var (field, value) in fields)
        {
            builder.Add(field);
            builder.Add(value);
        }

        return SendAsync(ref builder, ReplyMappers.Int64, cancellationToken);
    }

    /// <summary>HGETALL; empty when the key does not exist.</summary>
    public ValueTask<Dictionary<string, byte[]>> HashGetAllAsync(string key, CancellationToken cancellationToken = default) =>
        KeyCommand("HGETALL", key, ReplyMappers.BytesHash, cancellationToken);

    /// <summary>HGETALL with values decoded as UTF-8.</summary>
    public ValueTask<Dictionary<string, string>> HashGetAllStringAsync(string key, CancellationToken cancellationToken = default) =>
        KeyCommand("HGETALL", key, ReplyMappers.StringHash, cancellationToken);

    /// <summary>PUBLISH; returns the number of subscribers that received the message.</summary>
    public ValueTask<long> PublishAsync(string channel, ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(channel);
        var builder = new CommandBuilder("PUBLISH", 2);
        builder.Add(channel);
        builder.Add(message.Span);
        return SendAsync(ref builder, ReplyMappers.Int64, cancellationToken);
    }

    /// <inheritdoc cref="PublishAsync(string, ReadOnlyMemory{byte}, CancellationToken)"/>
    public ValueTask<long> PublishAsync(string channel, string message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(channel);
        ArgumentNullException.ThrowIfNull(message);
        var builder = new CommandBuilder("PUBLISH", 2);
        builder.Add(channel);
        builder.Add(message);
        return SendAsync(ref builder, ReplyMappers.Int64, cancellationToken);
    }

    private static CommandBuilder BeginSet(string key, TimeSpan? expiry, RedisSetCondition condition)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (expiry is { } ttl && ttl <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(expiry), expiry, "The expiry must be positive.");
        }

        var argumentCount = 2 + (expiry is null ? 0 : 2) + (condition == RedisSetCondition.Always ? 0 : 1);
        var builder = new CommandBuilder("SET", argumentCount);
        builder.Add(key);
        return builder;
    }

    private ValueTask<bool> EndSet(ref CommandBuilder builder, TimeSpan? expiry, RedisSetCondition condition, CancellationToken cancellationToken)
    {
        if (expiry is { } ttl)
        {
            var (unit, amount) = ExpiryArgument(ttl, "EX", "PX");
            builder.Add(unit);
            builder.Add(amount);
        }

        switch (condition)
        {
            case RedisSetCondition.IfNotExists:
                builder.Add("NX"u8);
                break;
            case RedisSetCondition.IfExists:
                builder.Add("XX"u8);
                break;
        }

        return SendAsync(ref builder, ReplyMappers.NotNull, cancellationToken);
    }

    private static (string Command, long Amount) ExpiryArgument(TimeSpan expiry, string seconds, string milliseconds)
    {
        if (expiry <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(expiry), expiry, "The expiry must be positive.");
        }

        return expiry.Ticks % TimeSpan.TicksPerSecond == 0
            ? (seconds, expiry.Ticks / TimeSpan.TicksPerSecond)
            : (milliseconds, (long)Math.Ceiling(expiry.TotalMilliseconds));
    }

    private static CommandBuilder RangeCommand(string command, string key, long start, long stop)
    {
        ArgumentNullException.ThrowIfNull(key);
        var builder = new CommandBuilder(command, 3);
        builder.Add(key);
        builder.Add(start);
        builder.Add(stop);
        return builder;
    }

    private ValueTask<T> KeyCommand<T>(string command, string key, Func<RedisResult, T> map, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        var builder = new CommandBuilder(command, 1);
        builder.Add(key);
        return SendAsync(ref builder, map, cancellationToken);
    }

    private ValueTask<long> KeysCommand(string command, IReadOnlyCollection<string> keys, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentOutOfRangeException.ThrowIfZero(keys.Count);
        var builder = new CommandBuilder(command, keys.Count);
        foreach (var key in keys)
        {
            builder.Add(key);
        }

        return SendAsync(ref builder, ReplyMappers.Int64, cancellationToken);
    }
}
