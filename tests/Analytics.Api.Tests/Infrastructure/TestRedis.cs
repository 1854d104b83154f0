namespace Analytics.Api.Tests.Infrastructure;

/// <summary>The Redis server the test script started (its address in <c>Redis__ConnectionString</c>).</summary>
public static class TestRedis
{
    public static string ConnectionString => Environment.GetEnvironmentVariable("Redis__ConnectionString")
        ?? throw new InvalidOperationException("Redis__ConnectionString is not set: run the tests with scripts/test.sh.");
}
