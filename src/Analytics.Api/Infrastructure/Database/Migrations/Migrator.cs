using Dapper;
using Npgsql;

namespace Analytics.Api.Infrastructure.Database.Migrations;

/// <summary>
/// Applies <see cref="MigrationSet"/> in order, each in its own transaction, under a PostgreSQL
/// advisory lock so that several nodes starting at once apply each migration exactly once.
/// </summary>
public sealed partial class Migrator(NpgsqlDataSource db, MigrationSet set, TimeProvider clock, ILogger<Migrator> logger)
{
    // Arbitrary but fixed: every node must contend for the same lock.
    private const long AdvisoryLockKey = 0x616E616C79746963;

    private const string CreateTableSql = """
        create table if not exists schema_migrations (
            version    integer primary key,
            name       text        not null,
            checksum   text        not null,
            applied_at timestamptz not null
        )
        """;

    private const string AppliedSql = "select version as Version, name as Name, checksum as Checksum from schema_migrations order by version";

    private const string RecordSql = "insert into schema_migrations (version, name, checksum, applied_at) values (@Version, @Name, @Checksum, @AppliedAt)";

    /// <summary>Returns the ids of the migrations this call applied (empty when the schema was current).</summary>
    public async Task<IReadOnlyList<string>> MigrateAsync(CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        // No command timeout (the connection string's default is 30 s): the lock waits for another node's migration,
        // and a migration that builds an index on a large table takes what it takes; a timeout would roll it back on
        // every start and the node would never come up. The caller's token still ends the wait.
        await connection.ExecuteAsync(new CommandDefinition("select pg_advisory_lock(@AdvisoryLockKey)", new { AdvisoryLockKey }, commandTimeout: 0, cancellationToken: ct));
        try
        {
            await connection.ExecuteAsync(new CommandDefinition(CreateTableSql, cancellationToken: ct));
            var applied = (await connection.QueryAsync<AppliedMigration>(new CommandDefinition(AppliedSql, cancellationToken: ct)))
                .ToDictionary(m => m.Version);

            foreach (var migration in set.Migrations)
            {
                if (applied.TryGetValue(migration.Version, out var done) && done.Checksum != migration.Checksum)
                {
                    throw new MigrationException(
                        $"Migration {migration.Id} was changed after it was applied (checksum {done.Checksum[..12]} in the database, {migration.Checksum[..12]} in this build). Migrations are forward-only: restore the file and add a new migration instead.");
                }
            }

            var newlyApplied = new List<string>();
            foreach (var migration in set.Migrations.Where(m => !applied.ContainsKey(m.Version)))
            {
                await ApplyAsync(connection, migration, ct);
                newlyApplied.Add(migration.Id);
                LogApplied(migration.Id);
            }

            if (newlyApplied.Count > 0)
            {
                // The pool cached the database's types before the migrations created new ones (citext): reload them.
                await connection.ReloadTypesAsync(ct);
            }

            return newlyApplied;
        }
        finally
        {
            // Unlock explicitly: the pooled connection (and so the session holding the lock) outlives this call.
            await connection.ExecuteAsync(new CommandDefinition("select pg_advisory_unlock(@AdvisoryLockKey)", new { AdvisoryLockKey }, cancellationToken: CancellationToken.None));
        }
    }

    private async Task ApplyAsync(NpgsqlConnection connection, Migration migration, CancellationToken ct)
    {
        await using var transaction = await connection.BeginTransactionAsync(ct);
        try
        {
            await connection.ExecuteAsync(new CommandDefinition(migration.Sql, transaction: transaction, commandTimeout: 0, cancellationToken: ct));
        }
        catch (PostgresException ex)
        {
            throw new MigrationException($"Migration {migration.Id} failed: {ex.MessageText} (SQLSTATE {ex.SqlState}). Nothing of it was applied.");
        }

        await connection.ExecuteAsync(new CommandDefinition(
            RecordSql,
            new { migration.Version, migration.Name, migration.Checksum, AppliedAt = clock.GetUtcNow() },
            transaction,
            cancellationToken: ct));
        await transaction.CommitAsync(ct);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied migration {Migration}")]
    private partial void LogApplied(string migration);

    private sealed record AppliedMigration(int Version, string Name, string Checksum);
}
