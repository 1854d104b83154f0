namespace Analytics.Api.Infrastructure.Health;

/// <summary>One dependency that <c>/health/ready</c> reports on.</summary>
public interface IReadinessCheck
{
    string Name { get; }

    Task<DependencyStatus> CheckAsync(CancellationToken ct);
}

public enum HealthState
{
    Healthy,

    /// <summary>Not working, but the service still answers without it (e.g. Redis with in-process fallbacks).</summary>
    Degraded,

    Unhealthy,
}

public sealed record DependencyStatus(HealthState Status, double? LatencyMs, string? Error, IReadOnlyDictionary<string, object>? Details);
