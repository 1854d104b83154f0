using System.Globalization;
using Analytics.Api.Features.Seed;
using Analytics.Api.Infrastructure.Database.Migrations;
using MediatR;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Analytics.Api.Infrastructure.Hosting;

/// <summary>
/// <c>Analytics.Api [--urls ...]</c> serves; <c>Analytics.Api migrate</c> applies migrations and exits;
/// <c>Analytics.Api seed [--users N] [--events N] [--days N]</c> migrates, seeds demo (and generated) data and exits.
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
                case "seed":
                    return await SeedAsync(app, args[1..]);
                default:
                    await Console.Error.WriteLineAsync($"Unknown command '{command}'. Commands: serve (default), migrate, seed.");
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
        catch (SeedException ex)
        {
            await Console.Error.WriteLineAsync($"Seed error: {ex.Message}");
            return 6;
        }
        catch (NpgsqlException ex)
        {
            await Console.Error.WriteLineAsync($"PostgreSQL error: {ex.Message} Check ConnectionStrings__Postgres and that the server is running.");
            return 5;
        }
    }

    private const string SeedUsage = "Usage: seed [--users N] [--events N] [--days N]: N generated users and events in total (default 0), spread over the last N days (1-90, default 30).";

    private static async Task<int> SeedAsync(WebApplication app, string[] args)
    {
        var (seed, problem) = ParseSeed(args);
        if (seed is null)
        {
            await Console.Error.WriteLineAsync($"{problem} {SeedUsage}");
            return 2;
        }

        if (app.Configuration is IConfigurationBuilder configuration)
        {
            // Progress and the summary are the output; per-request information logs would bury them.
            configuration.AddInMemoryCollection([new("Logging:LogLevel:Default", "Warning")]);

            // Rollups over millions of generated events take minutes per statement; the seed is a batch job
            // (an explicit Command Timeout in the connection string still wins).
            if (app.Configuration.GetConnectionString("Postgres") is { Length: > 0 } connectionString
                && !connectionString.Replace(" ", "", StringComparison.Ordinal).Contains("CommandTimeout", StringComparison.OrdinalIgnoreCase))
            {
                var unlimited = new NpgsqlConnectionStringBuilder(connectionString) { CommandTimeout = 0 }.ConnectionString;
                configuration.AddInMemoryCollection([new("ConnectionStrings:Postgres", unlimited)]);
            }
        }

        var applied = await app.Services.GetRequiredService<Migrator>().MigrateAsync(CancellationToken.None);
        await Console.Error.WriteLineAsync(applied.Count == 0 ? "schema: up to date" : $"schema: applied {applied.Count} migration(s)");
        using var scope = app.Services.CreateScope();
        var summary = await scope.ServiceProvider.GetRequiredService<IMediator>().Send(seed with { Progress = new SeedProgress(Console.Error) }, CancellationToken.None);
        await Console.Out.WriteAsync(Describe(summary));
        return 0;
    }

    private static bool IsSeedOption(string option) => option is "--users" or "--events" or "--days";

    /// <summary>
    /// The seed's options (<c>--users 1000</c> or <c>--users=1000</c>), or why they are not understood. Other
    /// Key=Value and --Section:Key value arguments are configuration.
    /// </summary>
    internal static (Seed.Command? Command, string? Problem) ParseSeed(string[] args)
    {
        var command = new Seed.Command();
        for (var i = 0; i < args.Length; i++)
        {
            var option = args[i];
            string? value = null;
            if (option.IndexOf('=', StringComparison.Ordinal) is var equals and > 0)
            {
                // --users=1000 is the seed's own option; any other Key=Value (or --Key=Value) is configuration.
                if (!IsSeedOption(option[..equals]))
                {
                    continue;
                }

                (option, value) = (option[..equals], option[(equals + 1)..]);
            }

            if (!option.StartsWith("--", StringComparison.Ordinal))
            {
                return (null, $"Unexpected argument '{option}'.");
            }

            if (value is null)
            {
                if (i + 1 >= args.Length)
                {
                    return (null, $"{option} needs a value.");
                }

                value = args[++i];
                if (option.Contains(':', StringComparison.Ordinal))
                {
                    continue;
                }
            }

            if (!IsSeedOption(option))
            {
                return (null, $"Unknown option '{option}'.");
            }

            if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            {
                return (null, $"{option} must be a whole number, not '{value}'.");
            }

            switch (option)
            {
                case "--users" when n <= GeneratedData.MaxUsers:
                    command = command with { Users = (int)n };
                    break;
                case "--events" when n <= GeneratedData.MaxEvents:
                    command = command with { Events = n };
                    break;
                case "--days" when n is >= 1 and <= Seed.MaxDays:
                    command = command with { Days = (int)n };
                    break;
                default:
                    return (null, $"{option} {value} is out of range.");
            }
        }

        return (command, null);
    }

    private static string Describe(Seed.Summary s)
    {
        var admin = s.AdminPassword is not null ? $"password {s.AdminPassword}   (generated: shown this once)"
            : s.AdminConfigured ? "password from Admin__Password"
            : "password as printed when it was created";
        var key = s.ApiKey is not null ? $"{s.ApiKey}   (shown this once; owner {s.AdminEmail}, name \"demo\")"
            : $"{s.ApiKeyPrefix}...   already created (its key was printed then)";
        var a = s.Added;
        return string.Create(CultureInfo.InvariantCulture, $"""

              Admin        {s.AdminEmail}   {admin}
              Demo users   {string.Join(", ", s.DemoUsers)}
                           password {s.DemoPassword}   (generated users gen-0000001@example.com... share it)
              API key      {key}
              Added        {a.Users} demo users, {a.Activity} activity rows, {a.Events} demo events, {a.GeneratedUsers} generated users, {a.GeneratedEvents} generated events
              Now          {s.TotalUsers} users, {s.RolledUpEvents} events in the rollups, {s.Reports} daily reports for the seeded period

            """);
    }
}
