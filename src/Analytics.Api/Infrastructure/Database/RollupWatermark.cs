using Dapper;
using Npgsql;

namespace Analytics.Api.Infrastructure.Database;

/// <summary>
/// How far the rollups have got: when their last run began, in <c>job_watermarks</c>. The rollups write it; the
/// dashboard, feature analytics and the seed read it.
/// </summary>
public static class RollupWatermark
{
    public const string Name = "rollups";

    /// <summary>Recent arrivals are re-read each run: a transaction that began before the last run may commit after it.</summary>
    public static readonly TimeSpan Overlap = TimeSpan.FromMinutes(5);

    /// <summary>The watermark as a scalar query (no row before the first run), with <c>@WatermarkName</c> set to <see cref="Name"/>.</summary>
    public const string Sql = "select watermark from job_watermarks where name = @WatermarkName";

    /// <summary>When the last rollup run began, or null when none has run.</summary>
    public static async Task<DateTimeOffset?> ReadAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken ct) =>
        (await connection.ExecuteScalarAsync<DateTime?>(new CommandDefinition(Sql, new { WatermarkName = Name }, transaction, cancellationToken: ct))).AsUtc();
}
