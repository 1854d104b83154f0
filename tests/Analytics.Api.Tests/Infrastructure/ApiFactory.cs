using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;

namespace Analytics.Api.Tests.Infrastructure;

/// <summary>The real service, in process, on this run's database. Extra settings override appsettings and the environment.</summary>
public sealed class ApiFactory(TestDatabase database, IReadOnlyDictionary<string, string?>? settings = null, string environment = "Testing") : WebApplicationFactory<Program>
{
    public const string SigningKey = "test-signing-key-0123456789-0123456789-0123456789";

    /// <summary>A PostgreSQL that refuses connections: nothing listens on port 1.</summary>
    public const string UnreachablePostgres = "Host=127.0.0.1;Port=1;Username=postgres;Timeout=2";

    public TestDatabase Database => database;

    /// <summary>The service started against <see cref="UnreachablePostgres"/>, without migrating at start.</summary>
    public static ApiFactory WithUnreachablePostgres(TestDatabase database, IReadOnlyDictionary<string, string?>? settings = null) => new(database, new Dictionary<string, string?>(settings ?? new Dictionary<string, string?>())
    {
        ["ConnectionStrings:Postgres"] = UnreachablePostgres,
        ["Database:MigrateOnStart"] = "false",
    });

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment(environment);
        builder.ConfigureAppConfiguration((_, configuration) =>
        {
            var values = new Dictionary<string, string?>
            {
                ["ConnectionStrings:Postgres"] = database.ConnectionString,
                ["Jwt:SigningKey"] = SigningKey,
                // Every test client shares one (absent) IP; per-IP throttling has its own test.
                ["SignIn:MaxAttemptsPerIp"] = "100000",
                ["SignIn:MaxRegistrationsPerIp"] = "100000",
                ["SignIn:MaxActivationsPerIp"] = "100000",
                // Tests read activation links and codes from the outbox, as a mail client would.
                ["Email:KeepSentBodies"] = "true",
                // Scheduled jobs on every test node would race the tests' own runs; job tests turn them on.
                ["Jobs:Enabled"] = "false",
            };
            foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
            {
                values[key] = value;
            }

            configuration.AddInMemoryCollection(values);
        });
    }
}
