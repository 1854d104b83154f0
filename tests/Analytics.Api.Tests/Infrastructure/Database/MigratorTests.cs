using Analytics.Api.Infrastructure.Database.Migrations;
using Dapper;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Analytics.Api.Tests.Infrastructure.Database;

public sealed class MigratorTests(TestDatabase database)
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    private static Migrator MigratorFor(NpgsqlDataSource dataSource, params Migration[] migrations) =>
        new(dataSource, new MigrationSet(migrations), TimeProvider.System, NullLogger<Migrator>.Instance);

    [Fact]
    public async Task Migrate_twice_applies_everything_once_and_then_nothing()
    {
        await using var dataSource = NpgsqlDataSource.Create(await database.CreateDatabaseAsync("twice"));
        var migrator = new Migrator(dataSource, MigrationSet.Embedded, TimeProvider.System, NullLogger<Migrator>.Instance);

        var first = await migrator.MigrateAsync(Ct);
        var second = await migrator.MigrateAsync(Ct);

        first.ShouldBe(MigrationSet.Embedded.Migrations.Select(m => m.Id));
        second.ShouldBeEmpty();
        await using var connection = await dataSource.OpenConnectionAsync(Ct);
        var recorded = (await connection.QueryAsync<(int Version, string Checksum)>("select version, checksum from schema_migrations order by version")).ToList();
        recorded.ShouldBe(MigrationSet.Embedded.Migrations.Select(m => (m.Version, m.Checksum)));
    }

    [Fact]
    public async Task A_migration_longer_than_the_connections_command_timeout_is_applied()
    {
        var connectionString = new NpgsqlConnectionStringBuilder(await database.CreateDatabaseAsync("slow")) { CommandTimeout = 1 }.ConnectionString;
        await using var dataSource = NpgsqlDataSource.Create(connectionString);

        var applied = await MigratorFor(dataSource, new Migration(1, "slow_index", "select pg_sleep(2); create table slow (id int)")).MigrateAsync(Ct);

        applied.ShouldBe(["0001_slow_index"]);
        await using var connection = await dataSource.OpenConnectionAsync(Ct);
        (await connection.ExecuteScalarAsync<bool>("select to_regclass('slow') is not null")).ShouldBeTrue();
    }

    [Fact]
    public async Task Migrate_with_a_changed_applied_migration_is_refused_and_applies_nothing_more()
    {
        await using var dataSource = NpgsqlDataSource.Create(await database.CreateDatabaseAsync("tamper"));
        await MigratorFor(dataSource, new Migration(1, "create_a", "create table a (id int)")).MigrateAsync(Ct);

        var tampered = MigratorFor(
            dataSource,
            new Migration(1, "create_a", "create table a (id bigint)"),
            new Migration(2, "create_b", "create table b (id int)"));
        var error = await Should.ThrowAsync<MigrationException>(() => tampered.MigrateAsync(Ct));

        error.Message.ShouldContain("0001_create_a");
        error.Message.ShouldContain("changed after it was applied");
        await using var connection = await dataSource.OpenConnectionAsync(Ct);
        (await connection.ExecuteScalarAsync<bool>("select to_regclass('b') is not null")).ShouldBeFalse();
        (await connection.ExecuteScalarAsync<long>("select count(*) from schema_migrations")).ShouldBe(1);
    }

    [Fact]
    public async Task Migrate_with_a_failing_migration_rolls_it_back_and_keeps_earlier_ones()
    {
        await using var dataSource = NpgsqlDataSource.Create(await database.CreateDatabaseAsync("failing"));
        var migrator = MigratorFor(
            dataSource,
            new Migration(1, "good", "create table good (id int)"),
            new Migration(2, "bad", "create table half (id int); select * from no_such_table"));

        var error = await Should.ThrowAsync<MigrationException>(() => migrator.MigrateAsync(Ct));

        error.Message.ShouldContain("0002_bad");
        error.Message.ShouldContain("no_such_table");
        await using var connection = await dataSource.OpenConnectionAsync(Ct);
        (await connection.ExecuteScalarAsync<bool>("select to_regclass('good') is not null")).ShouldBeTrue();
        (await connection.ExecuteScalarAsync<bool>("select to_regclass('half') is not null")).ShouldBeFalse();
        (await connection.QueryAsync<int>("select version from schema_migrations")).ShouldBe([1]);
    }

    [Fact]
    public async Task Concurrent_migrators_apply_each_migration_exactly_once()
    {
        var connectionString = await database.CreateDatabaseAsync("concurrent");
        Migration[] migrations =
        [
            new(1, "counter", "create table counter (n int not null)"),
            new(2, "count_once", "insert into counter values (1); select pg_sleep(0.2)"),
            new(3, "count_again", "insert into counter values (1)"),
        ];

        // Separate data sources: as separate nodes would have.
        var sources = Enumerable.Range(0, 6).Select(_ => NpgsqlDataSource.Create(connectionString)).ToList();
        try
        {
            var applied = await Task.WhenAll(sources.Select(s => Task.Run(() => MigratorFor(s, migrations).MigrateAsync(Ct))));

            applied.SelectMany(a => a).OrderBy(id => id, StringComparer.Ordinal).ShouldBe(["0001_counter", "0002_count_once", "0003_count_again"]);
            await using var connection = await sources[0].OpenConnectionAsync(Ct);
            (await connection.ExecuteScalarAsync<long>("select sum(n) from counter")).ShouldBe(2);
            (await connection.ExecuteScalarAsync<long>("select count(*) from schema_migrations")).ShouldBe(3);
        }
        finally
        {
            foreach (var source in sources)
            {
                await source.DisposeAsync();
            }
        }
    }

    [Theory]
    [InlineData("1_x.sql")]
    [InlineData("0001-x.sql")]
    [InlineData("0001_X.sql")]
    [InlineData("0001_x.txt")]
    public void Parse_rejects_badly_named_files(string fileName) =>
        Should.Throw<MigrationException>(() => MigrationSet.Parse(fileName, "select 1")).Message.ShouldContain(fileName);

    [Fact]
    public void Checksum_ignores_line_endings() =>
        new Migration(1, "a", "select 1;\r\nselect 2;").Checksum.ShouldBe(new Migration(1, "a", "select 1;\nselect 2;").Checksum);
}
