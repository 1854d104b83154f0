using System.Diagnostics;
using Analytics.Api.Infrastructure.Database.Migrations;
using Dapper;
using Npgsql;

namespace Analytics.Api.Tests.Infrastructure.Hosting;

/// <summary>The built service run as a process, the way the README and the Dockerfile run it.</summary>
public sealed class CommandLineTests(TestDatabase database)
{
    private static async Task<(int ExitCode, string Output, string Error)> RunApiAsync(IDictionary<string, string> environment, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Analytics.Api.dll"));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["ConnectionStrings__Postgres"] = "";
        info.Environment["DOTNET_ENVIRONMENT"] = "Production";
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        using var process = Process.Start(info)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var error = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output, await error);
    }

    [Fact]
    public async Task Migrate_command_applies_the_schema_and_exits_0()
    {
        var connectionString = await database.CreateDatabaseAsync("cli");

        var (exitCode, output, _) = await RunApiAsync(new Dictionary<string, string> { ["ConnectionStrings__Postgres"] = connectionString }, "migrate");

        exitCode.ShouldBe(0);
        output.ShouldContain("Applied");
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await using var connection = await dataSource.OpenConnectionAsync();
        (await connection.ExecuteScalarAsync<long>("select count(*) from schema_migrations")).ShouldBe(MigrationSet.Embedded.Migrations.Count);
    }

    [Fact]
    public async Task Missing_connection_string_stops_with_one_line_naming_the_setting()
    {
        var (exitCode, _, error) = await RunApiAsync(new Dictionary<string, string>(), "migrate");

        exitCode.ShouldNotBe(0);
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.Length.ShouldBe(1);
        lines[0].ShouldContain("ConnectionStrings__Postgres");
    }

    [Fact]
    public async Task Unreachable_database_stops_the_service_with_one_line()
    {
        var (exitCode, _, error) = await RunApiAsync(
            new Dictionary<string, string>
            {
                ["ConnectionStrings__Postgres"] = ApiFactory.UnreachablePostgres,
                ["Jwt__SigningKey"] = ApiFactory.SigningKey,
                ["ASPNETCORE_URLS"] = "http://127.0.0.1:0",
            });

        exitCode.ShouldNotBe(0);
        error.ShouldContain("PostgreSQL error");
        error.ShouldNotContain("   at ");
    }

    [Theory]
    [InlineData("", "Jwt__SigningKey is not set", null)]
    [InlineData("too-short", "Jwt__SigningKey is too weak", null)]
    [InlineData(ApiFactory.SigningKey, "DailyReportCron", "every day at noon")]
    public async Task Serving_in_production_without_a_strong_signing_key_or_with_a_bad_schedule_stops_with_one_line(string key, string message, string? cron)
    {
        var connectionString = await database.CreateDatabaseAsync("jwt");
        var settings = new Dictionary<string, string>
        {
            ["ConnectionStrings__Postgres"] = connectionString,
            ["Jwt__SigningKey"] = key,
            ["ASPNETCORE_URLS"] = "http://127.0.0.1:0",
        };
        if (cron is not null)
        {
            settings["Jobs__DailyReportCron"] = cron;
        }

        var (exitCode, _, error) = await RunApiAsync(settings);

        exitCode.ShouldNotBe(0);
        error.Trim().Split('\n').Length.ShouldBe(1);
        error.ShouldContain(message);
    }
}
