namespace Analytics.Redis;

/// <summary>A Redis server address taken from the connection string.</summary>
public readonly record struct RedisEndPoint(string Host, int Port)
{
    public override string ToString() => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}
