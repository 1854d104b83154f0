using System.Diagnostics;
using Analytics.Api.Infrastructure.Health;
using Npgsql;

namespace Analytics.Api.Infrastructure.Database;

internal sealed class PostgresReadinessCheck(NpgsqlDataSource db, PoolStatistics pool) : IReadinessCheck
{
    public string Name => "postgres";

    public async Task<DependencyStatus> CheckAsync(CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await using var command = db.CreateCommand("select 1");
            await command.ExecuteScalarAsync(ct);
            var latency = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            return new DependencyStatus(HealthState.Healthy, Math.Round(latency, 2), null, PoolDetails());
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException)
        {
            // The message says what failed (refused, timeout, auth) without the connection string.
            return new DependencyStatus(HealthState.Unhealthy, null, ex.Message, PoolDetails());
        }
    }

    private Dictionary<string, object> PoolDetails()
    {
        var snapshot = pool.Read();
        return new Dictionary<string, object>
        {
            ["poolIdle"] = snapshot.Idle,
            ["poolBusy"] = snapshot.Used,
            ["poolMax"] = snapshot.Max,
            ["poolPending"] = snapshot.Pending,
        };
    }
}
