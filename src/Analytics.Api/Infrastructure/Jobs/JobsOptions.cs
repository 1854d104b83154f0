namespace Analytics.Api.Infrastructure.Jobs;

public sealed class JobsOptions
{
    public const string Section = "Jobs";

    /// <summary>Run scheduled jobs on this node (clustered: each trigger fires on one node only).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Nodes of one cluster share it (read when services are registered, not later).</summary>
    public string SchedulerName { get; set; } = "analytics";

    public TimeSpan RollupInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Quartz cron, UTC. Hourly: each run makes the reports of the days over that have none (yesterday's at 00:05), so a
    /// run that failed is made good within the hour, not the next day; the others find nothing to do.
    /// </summary>
    public string DailyReportCron { get; set; } = "0 5 * * * ?";

    public TimeSpan AlertInterval { get; set; } = TimeSpan.FromMinutes(1);

    public TimeSpan MaintenanceInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// How long account activity (sign-ins, failures, profile changes) is kept. At least <see cref="MinActivityRetention"/>:
    /// an event may arrive up to a year late, and the rollups then recount its hour's failed sign-ins from this log.
    /// </summary>
    public TimeSpan ActivityRetention { get; set; } = TimeSpan.FromDays(400);

    internal static readonly TimeSpan MinActivityRetention = TimeSpan.FromDays(367);

    /// <summary>Intervals positive, the daily report's cron a valid Quartz expression (a bad one stops the start with one line).</summary>
    internal static bool IsValid(JobsOptions o) =>
        o.RollupInterval > TimeSpan.Zero && o.AlertInterval > TimeSpan.Zero && o.MaintenanceInterval > TimeSpan.Zero
        && o.ActivityRetention >= MinActivityRetention && Quartz.CronExpression.TryParse(o.DailyReportCron, out _);

    internal const string ValidationMessage =
        "Jobs: RollupInterval, AlertInterval and MaintenanceInterval must be positive, ActivityRetention at least 367.00:00:00 (events arrive up to a year late and their hours' rollups are recounted from the activity log), and DailyReportCron a valid Quartz cron expression (e.g. 0 5 * * * ?).";
}
