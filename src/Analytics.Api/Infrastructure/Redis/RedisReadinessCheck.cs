using Analytics.Api.Infrastructure.Health;

namespace Analytics.Api.Infrastructure.Redis;

/// <summary>Redis in <c>/health/ready</c>: degraded, not fatal, when down, since every store has a fallback.</summary>
internal sealed class RedisReadinessCheck(IServiceProvider services) : IReadinessCheck
{
    public string Name => "redis";

    public async Task<DependencyStatus> CheckAsync(CancellationToken ct)
    {
        if (!Caching.StoresServiceCollectionExtensions.UseRedis(services))
        {
            return new DependencyStatus(HealthState.Healthy, null, null, new Dictionary<string, object> { ["mode"] = "not configured: single-node in-process cache, limiter and bus" });
        }

        var client = await services.GetRequiredService<RedisLink>().ClientAsync();
        var stats = client.GetStatistics();
        var details = new Dictionary<string, object>
        {
            ["state"] = client.State.ToString().ToLowerInvariant(),
            ["commandsSent"] = stats.CommandsSent,
            ["commandsFailed"] = stats.CommandsFailed,
            ["reconnects"] = stats.Reconnects,
            ["pending"] = stats.PendingCommands,
        };
        try
        {
            var latency = await client.PingAsync(ct);
            return new DependencyStatus(HealthState.Healthy, Math.Round(latency.TotalMilliseconds, 2), null, details);
        }
        catch (Exception ex) when (RedisOutage.IsOutage(ex))
        {
            return new DependencyStatus(HealthState.Degraded, null, ex.Message, details);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // A Redis that hangs (frozen host, half-open connection) outlasts the readiness check's time: still only
            // degraded, or every node would leave the load balancer over a dependency each of them can do without.
            return new DependencyStatus(HealthState.Degraded, null, "No answer within the readiness check's time.", details);
        }
    }
}
