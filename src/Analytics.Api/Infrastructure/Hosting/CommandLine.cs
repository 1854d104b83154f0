using Analytics.Api.Infrastructure.Database.Migrations;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Analytics.Api.Infrastructure.Hosting;

/// <summary>
/// <c>Analytics.Api [--urls ...]</c> serves; <c>Analytics.Api migrate</c> applies migrations and exits.
/// A configuration or start-up problem ends the process with one line that says what to fix.
/// </summary>
public static class CommandLine
{
    public static async Task<int> RunCommandAsync(this WebApplication app, string[] args)
    {
        ArgumentNullException.ThrowIfNull(app);
        // The command comes first; everything after it (--urls ..., Key=Value) is configuration.
        var command = args is [var first, ..] && !first.StartsWith('-') && !first.Contains('=', StringComparison.Ordinal) ? first : "serve";
        try
        {
            switch (command)
            {
                case "serve":
                    await app.RunAsync();
                    return 0;
                case "migrate":
                    var applied = await app.Services.GetRequiredService<Migrator>().MigrateAsync(CancellationToken.None);
                    await Console.Out.WriteLineAsync(applied.Count == 0 ? "Schema is up to date." : $"Applied {applied.Count} migration(s): {string.Join(", ", applied)}.");
                    return 0;
                default:
                    await Console.Error.WriteLineAsync($"Unknown command '{command}'. Commands: serve (default), migrate.");
                    return 2;
            }
        }
        catch (OptionsValidationException ex)
        {
            await Console.Error.WriteLineAsync($"Configuration error: {string.Join(" ", ex.Failures)}");
            return 3;
        }
        catch (MigrationException ex)
        {
            await Console.Error.WriteLineAsync($"Migration error: {ex.Message}");
            return 4;
        }
        catch (NpgsqlException ex)
        {
            await Console.Error.WriteLineAsync($"PostgreSQL error: {ex.Message} Check ConnectionStrings__Postgres and that the server is running.");
            return 5;
        }
    }
}
