using Microsoft.Extensions.Options;

namespace Analytics.Api.Infrastructure.Database;

public sealed class DatabaseOptions
{
    public const string Section = "Database";

    /// <summary>From <c>ConnectionStrings:Postgres</c> (env <c>ConnectionStrings__Postgres</c>).</summary>
    public string ConnectionString { get; set; } = "";

    /// <summary>Apply pending migrations when the service starts.</summary>
    public bool MigrateOnStart { get; set; } = true;

    /// <summary>Analytics reads computed at once per node (the rest queue in order); 0 means four per core.</summary>
    public int MaxConcurrentAnalyticsReads { get; set; }
}

internal sealed class DatabaseOptionsValidator : IValidateOptions<DatabaseOptions>
{
    public ValidateOptionsResult Validate(string? name, DatabaseOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            return ValidateOptionsResult.Fail(
                "ConnectionStrings__Postgres is not set: set it to a PostgreSQL connection string, e.g. 'Host=127.0.0.1;Port=5432;Username=analytics;Password=...;Database=analytics'.");
        }

        try
        {
            _ = new Npgsql.NpgsqlConnectionStringBuilder(options.ConnectionString);
        }
        catch (ArgumentException ex)
        {
            return ValidateOptionsResult.Fail($"ConnectionStrings__Postgres is not a valid PostgreSQL connection string: {ex.Message}");
        }

        if (options.MaxConcurrentAnalyticsReads < 0)
        {
            return ValidateOptionsResult.Fail("Database__MaxConcurrentAnalyticsReads must not be negative (0 means four per core).");
        }

        return ValidateOptionsResult.Success;
    }
}
