using System.Security.Cryptography;
using System.Text;

namespace Analytics.Redis;

/// <summary>
/// A Lua script and its SHA1. Create one per script and reuse it: <see cref="RedisClient.ScriptEvaluateAsync"/> runs
/// it with EVALSHA and sends the text with EVAL only when the server does not know it yet.
/// </summary>
public sealed class RedisScript
{
    public RedisScript(string text)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        Text = text;
#pragma warning disable CA5350 // Redis names scripts by SHA1; this is an identifier, not a security measure.
        Sha1 = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(text)));
#pragma warning restore CA5350
    }

    public string Text { get; }

    /// <summary>Lower-case hex SHA1 of the UTF-8 text, as used by EVALSHA and returned by SCRIPT LOAD.</summary>
    public string Sha1 { get; }

    public override string ToString() => Sha1;
}
