using MediatR;
using Microsoft.Extensions.Options;
using Npgsql;
using Quartz;

namespace Analytics.Api.Infrastructure.Jobs;

/// <summary>
/// A scheduled job is thin: it sends one command through the mediator and nothing else, so the work itself is
/// a normal, tested handler. Jobs never overlap themselves, on this node or any other.
/// </summary>
[DisallowConcurrentExecution]
public abstract class CommandJob<TCommand, TResult>(IMediator mediator) : IJob
    where TCommand : IRequest<TResult>, new()
{
    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default) =>
        await mediator.Send(new TCommand(), cancellationToken);
}

/// <summary>A job and when it runs; the schedule is read from <see cref="JobsOptions"/> when the host starts.</summary>
public sealed record ScheduledJob(Type JobType, string Name, Func<JobsOptions, JobSchedule> Schedule);

/// <summary>Every <paramref name="Every"/>, or on a UTC <paramref name="Cron"/> expression.</summary>
public sealed record JobSchedule(TimeSpan? Every = null, string? Cron = null, int? Times = null)
{
    public IScheduleBuilder Build() => Cron is not null
        ? CronScheduleBuilder.Create(Cron).InTimeZone(TimeZoneInfo.Utc)
        : Times is { } times
            ? SimpleScheduleBuilder.Create().WithInterval(Every!.Value).WithRepeatCount(times - 1)
            : SimpleScheduleBuilder.Create().WithInterval(Every!.Value).RepeatForever();

    /// <summary>Stored with the trigger, so a node that starts with the same schedule leaves the running trigger alone.</summary>
    public override string ToString() => Cron is not null ? $"cron {Cron} UTC" : $"every {Every} x{Times?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "forever"}";
}

public static class JobsServiceCollectionExtensions
{
    /// <summary>
    /// Quartz with the PostgreSQL AdoJobStore in clustered mode (its tables come from db/migrations), on the
    /// service's own NpgsqlDataSource: with N nodes each trigger fires on exactly one of them.
    /// </summary>
    public static IServiceCollection AddJobs(this IServiceCollection services, IConfiguration configuration, params ScheduledJob[] jobs)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        services.AddOptions<JobsOptions>().Bind(configuration.GetSection(JobsOptions.Section))
            .Validate(JobsOptions.IsValid, JobsOptions.ValidationMessage).ValidateOnStart();
        var name = configuration.GetSection(JobsOptions.Section).Get<JobsOptions>()?.SchedulerName ?? new JobsOptions().SchedulerName;
        services.AddQuartz(new System.Collections.Specialized.NameValueCollection { ["quartz.scheduler.instanceName"] = name }, q =>
        {
            q.ConfigureScheduler(s => s.GenerateInstanceId = true);
            q.UsePersistentStore(store =>
            {
                store.UsePostgres(source => source.DataSourceFactory = sp => sp.GetRequiredService<NpgsqlDataSource>());
                store.UseSystemTextJsonSerializer(_ => { });
                store.UseClustering(cluster => cluster.CheckinInterval = TimeSpan.FromSeconds(10));
            });
        });
        foreach (var job in jobs)
        {
            services.AddTransient(job.JobType);
        }

        services.AddSingleton(jobs);
        services.AddHostedService<JobScheduler>();
        return services;
    }
}

/// <summary>Starts the clustered scheduler when jobs are enabled, stating each job's trigger (replacing the stored one).</summary>
internal sealed partial class JobScheduler(ISchedulerFactory factory, ScheduledJob[] jobs, IOptions<JobsOptions> options, ILogger<JobScheduler> logger) : IHostedService
{
    private IScheduler? _scheduler;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.Enabled)
        {
            return;
        }

        _scheduler = await factory.GetScheduler(cancellationToken);
        foreach (var job in jobs)
        {
            var schedule = job.Schedule(options.Value);

            // Every node states the schedules at start-up; one already stored as configured keeps its next fire time,
            // unless it is stuck: in the error state (a node of another version could not load its job during a rolling
            // deploy) or stored with another job class (renamed or moved), it would never fire again.
            if (await IsCurrentAsync(_scheduler, job, schedule, cancellationToken))
            {
                continue;
            }

            var detail = JobBuilder.Create().OfType(job.JobType).WithIdentity(job.Name).StoreDurably().Build();
            var trigger = TriggerBuilder.Create().WithIdentity(job.Name).WithDescription(schedule.ToString()).WithSchedule(schedule.Build()).StartNow().Build();
            await _scheduler.ScheduleJob(detail, [trigger], ScheduleJobOptions.Replacing, cancellationToken);
        }

        await _scheduler.Start(cancellationToken);
        LogStarted(jobs.Length, _scheduler.SchedulerInstanceId);
    }

    // The stored job's class is compared by name, never loaded: a class renamed or moved must not fail the start.
    private static async Task<bool> IsCurrentAsync(IScheduler scheduler, ScheduledJob job, JobSchedule schedule, CancellationToken ct)
    {
        var key = new TriggerKey(job.Name);
        try
        {
            return (await scheduler.GetTrigger(key, ct))?.Description == schedule.ToString()
                && await scheduler.GetTriggerState(key, ct) != TriggerState.Error
                && (await scheduler.GetJobDetail(new JobKey(job.Name), ct))?.JobType.FullName == new JobType(job.JobType).FullName;
        }
        catch (JobPersistenceException)
        {
            // The stored job cannot be read any more: replace it.
            return false;
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_scheduler is not null)
        {
            // Running jobs may finish, but not past the host's shutdown timeout (they are idempotent: one cut short runs again).
            await _scheduler.Shutdown(waitForJobsToComplete: true, cancellationToken).AsTask().WaitAsync(cancellationToken);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Clustered scheduler started with {Count} jobs as instance {Instance}")]
    private partial void LogStarted(int count, string instance);
}
