using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Analytics.Api.Tests.Infrastructure.Database;

/// <summary>The settings the service adds to the configured connection string, and what the string itself keeps.</summary>
public sealed class DataSourceTests(TestDatabase database)
{
    private async Task<NpgsqlConnectionStringBuilder> SettingsAsync(string connectionString)
    {
        await using var api = new ApiFactory(database, new Dictionary<string, string?> { ["ConnectionStrings:Postgres"] = connectionString });
        using var _ = api.CreateClient();
        return new NpgsqlConnectionStringBuilder(api.Services.GetRequiredService<NpgsqlDataSource>().ConnectionString);
    }

    [Fact]
    public async Task Connections_skip_the_pool_reset_unless_the_connection_string_says_otherwise_in_either_spelling()
    {
        (await SettingsAsync(database.ConnectionString)).ShouldSatisfyAllConditions(
            s => s.NoResetOnClose.ShouldBeTrue(), s => s.MaxAutoPrepare.ShouldBe(64), s => s.Timezone.ShouldBe("UTC"));
        (await SettingsAsync(database.ConnectionString + ";No Reset On Close=false")).NoResetOnClose.ShouldBeFalse();
        (await SettingsAsync(database.ConnectionString + ";NoResetOnClose=false")).NoResetOnClose.ShouldBeFalse();
    }
}
