using Dapper;
using Npgsql;

namespace Analytics.Api.Features.Events;

/// <summary>
/// Keeps monthly partitions of <c>events</c> for the whole accepted time range (a year back, a month ahead)
/// and creates the next ones as time moves on: at start-up and then daily.
/// </summary>
internal sealed partial class EventPartitions(NpgsqlDataSource db, TimeProvider clock, ILogger<EventPartitions> logger) : BackgroundService
{
    private const string EnsureSql = "select ensure_events_partition(@At)";

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        // Before the service takes traffic: an event must never land in the default partition for lack of its own.
        await EnsureAsync(cancellationToken);
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromHours(24), clock);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await EnsureAsync(stoppingToken);
            }
            catch (NpgsqlException ex)
            {
                LogFailed(ex.Message);
            }
        }
    }

    internal async Task EnsureAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        await using var connection = await db.OpenConnectionAsync(ct);
        for (var month = -13; month <= 2; month++)
        {
            await connection.ExecuteAsync(new CommandDefinition(EnsureSql, new { At = now.AddMonths(month) }, cancellationToken: ct));
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Creating event partitions failed: {Reason}; retrying tomorrow and at the next start")]
    private partial void LogFailed(string reason);
}
