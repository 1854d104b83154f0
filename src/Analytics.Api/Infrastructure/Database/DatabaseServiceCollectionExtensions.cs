using System.Data.Common;
using Analytics.Api.Infrastructure.Database.Migrations;
using Analytics.Api.Infrastructure.Health;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Analytics.Api.Infrastructure.Database;

public static class DatabaseServiceCollectionExtensions
{
    public static IServiceCollection AddDatabase(this IServiceCollection services, IConfiguration configuration)
    {
        DapperTypeHandlers.Register();
        services.AddOptions<DatabaseOptions>()
            .Bind(configuration.GetSection(DatabaseOptions.Section))
            .Configure(o => o.ConnectionString = configuration.GetConnectionString("Postgres") ?? o.ConnectionString)
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<DatabaseOptions>, DatabaseOptionsValidator>();
        services.AddSingleton<AnalyticsReads>();

        // One data source (and so one pool) for the whole process.
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<DatabaseOptions>>().Value;
            var builder = new NpgsqlDataSourceBuilder(options.ConnectionString)
            {
                Name = sp.GetRequiredService<PoolStatistics>().PoolName,
            };

            // Day and hour boundaries (date_trunc, date to timestamptz) are UTC whatever the server's default zone.
            builder.ConnectionStringBuilder.Timezone = "UTC";

            // The hot statements (ingestion, session checks, key lookups, dashboard) are few and repeated: prepare
            // them on each connection after their second use instead of planning them on every call.
            if (builder.ConnectionStringBuilder.MaxAutoPrepare == 0)
            {
                builder.ConnectionStringBuilder.MaxAutoPrepare = 64;
                builder.ConnectionStringBuilder.AutoPrepareMinUsages = 2;
            }
            // A connection going back to the pool is otherwise reset (RESET ALL, CLOSE ALL, UNLISTEN *, advisory
            // unlock, DISCARD SEQUENCES, DISCARD TEMP) before its next use: six statements per checkout, for state
            // this service never leaves behind (settings are SET LOCAL, advisory locks are transaction-scoped or
            // released in a finally). A "No Reset On Close" in the connection string (any spelling) wins.
            if (!Names(options.ConnectionString, "NoResetOnClose"))
            {
                builder.ConnectionStringBuilder.NoResetOnClose = true;
            }

            builder.UseLoggerFactory(sp.GetRequiredService<ILoggerFactory>());
            return builder.Build();
        });
        services.AddSingleton<PoolStatistics>();
        services.AddSingleton(MigrationSet.Embedded);
        services.AddSingleton<Migrator>();
        services.AddHostedService<MigrateOnStartService>();
        services.AddSingleton<IReadinessCheck, PostgresReadinessCheck>();
        return services;
    }

    /// <summary>Whether the connection string sets <paramref name="setting"/>, spelt with or without spaces (as Npgsql accepts).</summary>
    private static bool Names(string connectionString, string setting) =>
        new DbConnectionStringBuilder { ConnectionString = connectionString }.Keys.Cast<string>()
            .Any(key => string.Equals(key.Replace(" ", "", StringComparison.Ordinal), setting, StringComparison.OrdinalIgnoreCase));
}
