using System.Text;

namespace Analytics.Redis;

/// <summary>A message received on a subscribed channel.</summary>
public sealed class RedisMessage(string channel, string? pattern, ReadOnlyMemory<byte> payload)
{
    /// <summary>The channel the message was published to.</summary>
    public string Channel { get; } = channel;

    /// <summary>The pattern that matched <see cref="Channel"/>, for pattern subscriptions.</summary>
    public string? Pattern { get; } = pattern;

    public ReadOnlyMemory<byte> Payload { get; } = payload;

    /// <summary>The payload decoded as UTF-8.</summary>
    public string PayloadAsString() => Encoding.UTF8.GetString(Payload.Span);

    public override string ToString() => $"{Channel}: {PayloadAsString()}";
}
