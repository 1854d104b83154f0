using Analytics.Api.Features.Analytics.Dashboard;
using Analytics.Api.Features.Reports.Alerts;
using Analytics.Api.Features.Reports.Maintenance;
using Analytics.Api.Features.Reports.Rollups;
using Analytics.Api.Infrastructure.Auth;
using Analytics.Api.Infrastructure.Jobs;
using MediatR;

namespace Analytics.Api.Features.Reports;

public sealed class RollupJob(IMediator mediator) : CommandJob<RunRollups.Command, Rollups.Rollups.Result>(mediator);

public sealed class DailyReportJob(IMediator mediator) : CommandJob<DailyReport.DailyReport.Scheduled, IReadOnlyList<DailyReport.DailyReport.Report>>(mediator);

public sealed class AlertJob(IMediator mediator) : CommandJob<CheckAlerts.Command, CheckAlerts.Result>(mediator);

public sealed class MaintenanceJob(IMediator mediator) : CommandJob<RunMaintenance.Command, RunMaintenance.Result>(mediator);

public static class ReportsEndpoints
{
    /// <summary>The admin's dashboard, reports and failed-login alerts, and the scheduled jobs that keep their data current.</summary>
    public static IServiceCollection AddReports(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<DashboardOptions>().Bind(configuration.GetSection(DashboardOptions.Section));
        services.AddOptions<AlertsOptions>().Bind(configuration.GetSection(AlertsOptions.Section))
            .Validate(AlertsOptions.IsValid, AlertsOptions.ValidationMessage).ValidateOnStart();
        services.AddSingleton<Rollups.Rollups>();
        services.AddSingleton<DailyReport.DailyReports>();
        services.AddJobs(
            configuration,
            new ScheduledJob(typeof(RollupJob), "rollups", o => new JobSchedule(Every: o.RollupInterval)),
            new ScheduledJob(typeof(DailyReportJob), "daily-report", o => new JobSchedule(Cron: o.DailyReportCron)),
            new ScheduledJob(typeof(AlertJob), "alerts", o => new JobSchedule(Every: o.AlertInterval)),
            new ScheduledJob(typeof(MaintenanceJob), "maintenance", o => new JobSchedule(Every: o.MaintenanceInterval)));
        return services;
    }

    public static IEndpointRouteBuilder MapReports(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/api/v1/admin").WithTags("Admin: dashboard and reports").RequireAuthorization(Policies.Admin);
        Dashboard.Map(admin);
        DailyReport.DailyReport.Map(admin);
        ListAlerts.Map(admin);
        AcknowledgeAlert.Map(admin);
        return app;
    }
}
