namespace Analytics.Redis.Internal;

/// <summary>Cached reply conversions, so typed commands allocate no delegate per call.</summary>
internal static class ReplyMappers
{
    public static readonly Func<RedisResult, RedisResult> Result = static reply => reply;

    public static readonly Func<RedisResult, byte[]?> Bytes = static reply => reply.AsBytes();

    public static readonly Func<RedisResult, string?> String = static reply => reply.AsString();

    public static readonly Func<RedisResult, long> Int64 = static reply => reply.AsInt64();

    public static readonly Func<RedisResult, bool> IntegerIsNonZero = static reply => reply.AsInt64() != 0;

    /// <summary>SET with NX/XX answers nil when the condition was not met.</summary>
    public static readonly Func<RedisResult, bool> NotNull = static reply => !reply.IsNull;

    public static readonly Func<RedisResult, byte[][]> BytesArray = static reply =>
        Array.ConvertAll(reply.Items, static item => item.AsBytes() ?? []);

    public static readonly Func<RedisResult, string[]> StringArray = static reply =>
        Array.ConvertAll(reply.Items, static item => item.AsString() ?? string.Empty);

    public static readonly Func<RedisResult, Dictionary<string, byte[]>> BytesHash = static reply =>
    {
        var items = reply.Items;
        var hash = new Dictionary<string, byte[]>(items.Length / 2, StringComparer.Ordinal);
        for (var i = 0; i + 1 < items.Length; i += 2)
        {
            hash[items[i].AsString()!] = items[i + 1].AsBytes() ?? [];
        }

        return hash;
    };

    public static readonly Func<RedisResult, Dictionary<string, string>> StringHash = static reply =>
    {
        var items = reply.Items;
        var hash = new Dictionary<string, string>(items.Length / 2, StringComparer.Ordinal);
        for (var i = 0; i + 1 < items.Length; i += 2)
        {
            hash[items[i].AsString()!] = items[i + 1].AsString() ?? string.Empty;
        }

        return hash;
    };
}
