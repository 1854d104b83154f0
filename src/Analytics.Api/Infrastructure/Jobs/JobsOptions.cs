namespace Analytics.Api.Infrastructure.Jobs;

public sealed class JobsOptions
{
    public const string Section = "Jobs";

    /// <summary>Run scheduled jobs on this node (clustered: each trigger fires on one node only).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Nodes of one cluster share it (read when services are registered, not later).</summary>
    public string SchedulerName { get; set; } = "analytics";

    public TimeSpan RollupInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Quartz cron, UTC.</summary>
    public string DailyReportCron { get; set; } = "0 5 0 * * ?";

    public TimeSpan AlertInterval { get; set; } = TimeSpan.FromMinutes(1);

    public TimeSpan MaintenanceInterval { get; set; } = TimeSpan.FromHours(1);
}
