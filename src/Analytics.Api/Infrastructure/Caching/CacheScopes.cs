namespace Analytics.Api.Infrastructure.Caching;

/// <summary>Generation scopes shared by the writers that make cached answers stale and the readers that cache them.</summary>
public static class CacheScopes
{
    /// <summary>Admin dashboard answers: bumped by registrations, role and status changes, and each rollup run with new data.</summary>
    public const string Dashboard = "dashboard";
}
