using Npgsql;

namespace Analytics.Api.Tests.Infrastructure;

/// <summary>Waits until a request of the API under test is blocked on a row lock a test holds.</summary>
public static class LockWaits
{
    /// <summary>
    /// Returns once a backend of <paramref name="watcher"/>'s database waits for a lock (and, when
    /// <paramref name="statement"/> is given, is running a statement that contains it). Use a connection of its own:
    /// pg_stat_activity is read once per transaction.
    /// </summary>
    public static async Task WaitAsync(NpgsqlConnection watcher, Task request, string? statement = null)
    {
        for (var i = 0; i < 400 && !request.IsCompleted; i++)
        {
            await using var waiting = new NpgsqlCommand(
                "select count(*) from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and (@Statement::text is null or strpos(query, @Statement::text) > 0)", watcher);
            waiting.Parameters.AddWithValue("Statement", (object?)statement ?? DBNull.Value);
            if ((long)(await waiting.ExecuteScalarAsync())! > 0)
            {
                return;
            }

            await Task.Delay(25);
        }

        throw new ShouldAssertException(request.IsCompleted ? "the request ended before it waited for the lock" : "the request never waited for the lock");
    }
}
