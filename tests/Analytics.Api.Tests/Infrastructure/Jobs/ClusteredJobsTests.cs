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

    private static IHost Node(string connectionString, string cluster)
    {
        var builder = Host.CreateApplicationBuilder();

        // Quartz keeps schedulers by name per process: a name of its own keeps this cluster apart from other tests'.
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Jobs:Enabled"] = "true", ["Jobs:SchedulerName"] = cluster });
        builder.Services.AddSingleton(_ => NpgsqlDataSource.Create(connectionString));
        builder.Services.AddJobs(
            builder.Configuration,
            new ScheduledJob(typeof(CountingJob), "counting", _ => new JobSchedule(Every: TimeSpan.FromSeconds(1), Times: Fires)));
        return builder.Build();
    }

    /// <summary>A migrated database of its own (Quartz's tables) with a table the counting job writes its fires to.</summary>
    private async Task<(string ConnectionString, TestDatabase Db)> ClusterDatabaseAsync()
    {
        var connectionString = await database.CreateDatabaseAsync("cluster");
        var db = database.On(connectionString);
        await using (var migrating = new ApiFactory(database, new Dictionary<string, string?> { ["ConnectionStrings:Postgres"] = connectionString, ["Redis:ConnectionString"] = "" }))
        {
            migrating.CreateClient().Dispose();
        }

        await db.ExecuteAsync("create table fires (scheduled_at timestamptz not null, instance text not null)");
        return (connectionString, db);
    }

    [Fact(Timeout = 120_000)]
    public async Task Two_scheduler_nodes_on_one_database_run_each_trigger_once()
    {
        var (connectionString, db) = await ClusterDatabaseAsync();
        var cluster = $"cluster-{Guid.NewGuid():N}";
        using var first = Node(connectionString, cluster);
        using var second = Node(connectionString, cluster);
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
    public async Task A_trigger_left_in_the_error_state_with_a_renamed_job_class_is_scheduled_again_when_a_node_starts()
    {
        var (connectionString, db) = await ClusterDatabaseAsync();
        var cluster = $"cluster-{Guid.NewGuid():N}";
        using (var earlier = Node(connectionString, cluster))
        {
            await earlier.StartAsync();
            await earlier.StopAsync();
        }

        // As a node of another version leaves it when it cannot load the job's class (a rolling deploy); then stored
        // under the class's old name (renamed or moved since), which must not even fail the start.
        foreach (var stuck in new[]
        {
            "update qrtz_triggers set trigger_state = 'ERROR' where trigger_name = 'counting'",
            "update qrtz_job_details set job_class_name = 'Analytics.Api.Jobs.OldName, Analytics.Api' where job_name = 'counting'",
        })
        {
            (await db.ScalarAsync<long>($"with stuck as ({stuck} returning 1) select count(*) from stuck")).ShouldBe(1);
            var before = await db.ScalarAsync<long>("select count(*) from fires");
            using var restarted = Node(connectionString, cluster);
            await restarted.StartAsync();
            try
            {
                for (var i = 0; i < 50 && await db.ScalarAsync<long>("select count(*) from fires") == before; i++)
                {
                    await Task.Delay(200);
                }
            }
            finally
            {
                await restarted.StopAsync();
            }

            (await db.ScalarAsync<long>("select count(*) from fires")).ShouldBeGreaterThan(before, stuck);
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task The_service_started_with_jobs_schedules_them_runs_the_rollups_and_stops_cleanly()
    {
        var connectionString = await database.CreateDatabaseAsync("jobs");
        var db = database.On(connectionString);
        await using (var source = NpgsqlDataSource.Create(connectionString))
        {
            await new Analytics.Api.Infrastructure.Database.Migrations.Migrator(source, Analytics.Api.Infrastructure.Database.Migrations.MigrationSet.Embedded, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<Analytics.Api.Infrastructure.Database.Migrations.Migrator>.Instance).MigrateAsync(CancellationToken.None);
        }

        var info = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = AppContext.BaseDirectory };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Analytics.Api.dll"));
        info.ArgumentList.Add("--urls");
        info.ArgumentList.Add("http://127.0.0.1:0");
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        info.Environment["ConnectionStrings__Postgres"] = connectionString;
        info.Environment["Jwt__SigningKey"] = ApiFactory.SigningKey;
        info.Environment["Redis__ConnectionString"] = "";
        info.Environment["Jobs__RollupInterval"] = "00:00:01";

        // The real process, so that start-up and a graceful stop (SIGTERM) are what production sees.
        using var process = System.Diagnostics.Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        try
        {
            for (var i = 0; i < 150 && await db.ScalarAsync<long>("select count(*) from job_watermarks where name = 'rollups'") == 0; i++)
            {
                await Task.Delay(200);
            }

            (await db.ScalarAsync<long>("select count(*) from job_watermarks where name = 'rollups'")).ShouldBe(1);
            (await db.QueryAsync<string>("select job_name from qrtz_job_details order by job_name")).ShouldBe(["alerts", "daily-report", "maintenance", "rollups"]);
        }
        finally
        {
            using var term = System.Diagnostics.Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            await term.WaitForExitAsync();
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        process.ExitCode.ShouldBe(0, await errors + await output);
    }
}
