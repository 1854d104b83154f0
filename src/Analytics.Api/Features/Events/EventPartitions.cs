using Dapper;
using Npgsql;

namespace Analytics.Api.Features.Events;

/// <summary>
/// Keeps monthly partitions of <c>events</c> for the whole accepted time range (a year back, a month ahead)
/// and creates the next ones as time moves on: at start-up and then hourly (a no-op once they exist).
/// </summary>
internal sealed partial class EventPartitions(NpgsqlDataSource db, TimeProvider clock, ILogger<EventPartitions> logger) : BackgroundService
{
    private const string EnsureSql = "select ensure_events_partition(@At)";

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        // Before the service takes traffic, so an event does not land in the default partition for lack of its own;
        // but a database that is down now must not stop the service from starting (readiness reports it).
        await TryEnsureAsync(cancellationToken);
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromHours(1), clock);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            await TryEnsureAsync(stoppingToken);
        }
    }

    private async Task TryEnsureAsync(CancellationToken ct)
    {
        try
        {
            await EnsureAsync(ct);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            LogFailed(ex.Message);
        }
    }

    private async Task EnsureAsync(CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await EnsureAsync(connection, clock.GetUtcNow(), ct);
    }

    /// <summary>The monthly partitions from 13 months before <paramref name="now"/> to 2 after (the seed's range too).</summary>
    internal static async Task EnsureAsync(NpgsqlConnection connection, DateTimeOffset now, CancellationToken ct)
    {
        for (var month = -13; month <= 2; month++)
        {
            await connection.ExecuteAsync(new CommandDefinition(EnsureSql, new { At = now.AddMonths(month) }, cancellationToken: ct));
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Creating event partitions failed: {Reason}; retrying within the hour")]
    private partial void LogFailed(string reason);
}
