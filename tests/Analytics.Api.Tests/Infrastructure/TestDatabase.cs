using Analytics.Api.Infrastructure.Database.Migrations;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

[assembly: AssemblyFixture(typeof(Analytics.Api.Tests.Infrastructure.TestDatabase))]

namespace Analytics.Api.Tests.Infrastructure;

/// <summary>
/// One fresh database per test run, created from <c>db/migrations</c> on the server the test script started
/// (or the one <c>ConnectionStrings__Postgres</c> names). Tests isolate their data by unique ids, not by wiping.
/// </summary>
public sealed class TestDatabase : IAsyncLifetime
{
    public TestDatabase()
    {
        AdminConnectionString = Environment.GetEnvironmentVariable("ConnectionStrings__Postgres")
            ?? throw new InvalidOperationException("ConnectionStrings__Postgres is not set: run the tests with scripts/test.sh, which starts PostgreSQL and Redis.");
        ConnectionString = "";
    }

    /// <summary>The server's maintenance database, for creating and dropping databases.</summary>
    public string AdminConnectionString { get; }

    /// <summary>The migrated database of this run.</summary>
    public string ConnectionString { get; private set; }

    public async ValueTask InitializeAsync()
    {
        ConnectionString = await CreateDatabaseAsync("run");
        await using var dataSource = NpgsqlDataSource.Create(ConnectionString);
        await new Migrator(dataSource, MigrationSet.Embedded, TimeProvider.System, NullLogger<Migrator>.Instance).MigrateAsync(CancellationToken.None);
    }

    /// <summary>Creates an empty database (dropped with the run) and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string purpose)
    {
        var name = $"analytics_test_{purpose}_{Guid.NewGuid():N}"[..50];
        // Database names cannot be parameters; this one is generated above from a Guid.
        await using (var admin = NpgsqlDataSource.Create(AdminConnectionString))
        {
            await using var command = admin.CreateCommand($"create database \"{name}\"");
            await command.ExecuteNonQueryAsync();
        }

        _created.Add(name);
        return new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = name }.ConnectionString;
    }

    private readonly List<string> _created = [];

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using var admin = NpgsqlDataSource.Create(AdminConnectionString);
        foreach (var name in _created)
        {
            await using var command = admin.CreateCommand($"drop database if exists \"{name}\" with (force)");
            await command.ExecuteNonQueryAsync();
        }
    }

    /// <summary>The same server, pointed at a database made by <see cref="CreateDatabaseAsync"/> (for numbers no other test touches).</summary>
    public TestDatabase On(string connectionString) => new(AdminConnectionString, connectionString);

    private TestDatabase(string admin, string connectionString)
    {
        AdminConnectionString = admin;
        ConnectionString = connectionString;
    }
}
