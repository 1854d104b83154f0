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

    /// <summary>Intervals positive, the daily report's cron a valid Quartz expression (a bad one stops the start with one line).</summary>
    internal static bool IsValid(JobsOptions o) =>
        o.RollupInterval > TimeSpan.Zero && o.AlertInterval > TimeSpan.Zero && o.MaintenanceInterval > TimeSpan.Zero
        && Quartz.CronExpression.TryParse(o.DailyReportCron, out _);

    internal const string ValidationMessage =
        "Jobs: RollupInterval, AlertInterval and MaintenanceInterval must be positive, and DailyReportCron a valid Quartz cron expression (e.g. 0 5 0 * * ?).";
}
