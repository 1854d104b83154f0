using Analytics.Api.Infrastructure.Jobs;
using Dapper;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Quartz;

namespace Analytics.Api.Tests.Infrastructure.Jobs;

/// <summary>Running schedulers alone: their timing must not compete with the rest of the suite for two cores.</summary>
[CollectionDefinition(DisableParallelization = true)]
public sealed class RunsAlone;

/// <summary>Two nodes on one database, each with the scheduler started: every trigger fires on one of them, once.</summary>
[Collection(typeof(RunsAlone))]
public sealed class ClusteredJobsTests(TestDatabase database)
{
    private const int Fires = 5;

    public sealed class CountingJob(NpgsqlDataSource db) : IJob
    {
        public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default)
        {
            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            await connection.ExecuteAsync(
                "insert into fires (scheduled_at, instance) values (@At, @Instance)",
                new { At = context.ScheduledFireTimeUtc, Instance = context.Scheduler.SchedulerInstanceId });
        }
    }

    private static IHost Node(string connectionString)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Jobs:Enabled"] = "true" });
        builder.Services.AddSingleton(_ => NpgsqlDataSource.Create(connectionString));
        builder.Services.AddJobs(
            builder.Configuration,
            new ScheduledJob(typeof(CountingJob), "counting", _ => new JobSchedule(Every: TimeSpan.FromSeconds(1), Times: Fires)));
        return builder.Build();
    }

    [Fact(Timeout = 120_000)]
    public async Task Two_scheduler_nodes_on_one_database_run_each_trigger_once()
    {
        var connectionString = await database.CreateDatabaseAsync("cluster");
        var db = database.On(connectionString);
        await using (var migrating = new ApiFactory(database, new Dictionary<string, string?> { ["ConnectionStrings:Postgres"] = connectionString, ["Redis:ConnectionString"] = "" }))
        {
            migrating.CreateClient().Dispose();
        }

        await db.ExecuteAsync("create table fires (scheduled_at timestamptz not null, instance text not null)");
        using var first = Node(connectionString);
        using var second = Node(connectionString);
        await first.StartAsync();
        await second.StartAsync();
        try
        {
            for (var i = 0; i < 100 && await db.ScalarAsync<long>("select count(*) from fires") < Fires; i++)
            {
                await Task.Delay(200);
            }

            // Long enough for a double fire, had there been one, to land.
            await Task.Delay(1500);
        }
        finally
        {
            await first.StopAsync();
            await second.StopAsync();
        }

        (await db.ScalarAsync<long>("select count(*) from fires")).ShouldBe(Fires);
        (await db.ScalarAsync<long>("select count(distinct scheduled_at) from fires")).ShouldBe(Fires);
        // Both nodes checked in to the same cluster: the once-only result is not one node running alone.
        (await db.ScalarAsync<long>("select count(*) from qrtz_scheduler_state")).ShouldBe(2);
    }

    [Fact(Timeout = 120_000)]
    public async Task With_jobs_enabled_the_service_schedules_its_jobs_and_the_rollups_run()
    {
        var connectionString = await database.CreateDatabaseAsync("jobs");
        var db = database.On(connectionString);
        await using var api = new ApiFactory(database, new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = connectionString,
            ["Redis:ConnectionString"] = "",
            ["Jobs:Enabled"] = "true",
            ["Jobs:RollupInterval"] = "00:00:01",
        });
        api.CreateClient().Dispose();

        for (var i = 0; i < 100 && await db.ScalarAsync<long>("select count(*) from job_watermarks where name = 'rollups'") == 0; i++)
        {
            await Task.Delay(200);
        }

        (await db.ScalarAsync<long>("select count(*) from job_watermarks where name = 'rollups'")).ShouldBe(1);
        var scheduler = await api.Services.GetRequiredService<ISchedulerFactory>().GetScheduler();
        (await scheduler.GetJobKeys(GroupMatcher<JobKey>.AnyGroup())).Select(k => k.Name).Order().ShouldBe(["alerts", "daily-report", "maintenance", "rollups"]);
    }
}
