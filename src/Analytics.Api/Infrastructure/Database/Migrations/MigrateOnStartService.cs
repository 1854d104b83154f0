using Microsoft.Extensions.Options;

namespace Analytics.Api.Infrastructure.Database.Migrations;

/// <summary>Brings the schema up to date before the service takes traffic, unless <c>Database:MigrateOnStart</c> is false.</summary>
internal sealed class MigrateOnStartService(Migrator migrator, IOptions<DatabaseOptions> options) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.MigrateOnStart)
        {
            await migrator.MigrateAsync(cancellationToken);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
