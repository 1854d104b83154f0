using System.Diagnostics.Metrics;

namespace Analytics.Api.Infrastructure.Database;

/// <summary>
/// Reads Npgsql's own connection-pool gauges (its System.Diagnostics.Metrics meter) on demand,
/// for the pool this process's data source names <see cref="PoolName"/>.
/// </summary>
public sealed class PoolStatistics : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly Lock _gate = new();
    private long _idle;
    private long _used;
    private long _max;
    private long _pending;

    public PoolStatistics()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Npgsql" && instrument.Name.StartsWith("db.client.connection.", StringComparison.Ordinal))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Record(instrument.Name, value, tags));
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument.Name, value, tags));
        _listener.Start();
    }

    /// <summary>Unique per process and instance, so that several data sources in one process (tests) are told apart.</summary>
    public string PoolName { get; } = $"analytics-{Guid.NewGuid():N}";

    public PoolSnapshot Read()
    {
        lock (_gate)
        {
            _idle = _used = _max = _pending = 0;
            _listener.RecordObservableInstruments();
            return new PoolSnapshot(_idle, _used, _max, _pending);
        }
    }

    private void Record(string instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        string? pool = null;
        string? state = null;
        foreach (var tag in tags)
        {
            if (tag.Key == "db.client.connection.pool.name")
            {
                pool = tag.Value as string;
            }
            else if (tag.Key == "db.client.connection.state")
            {
                state = tag.Value as string;
            }
        }

        if (pool != PoolName)
        {
            return;
        }

        switch (instrument)
        {
            case "db.client.connection.count" when state == "idle":
                _idle += value;
                break;
            case "db.client.connection.count":
                _used += value;
                break;
            case "db.client.connection.max":
                _max = value;
                break;
            case "db.client.connection.npgsql.pending_requests":
                _pending = value;
                break;
            default:
                break;
        }
    }

    public void Dispose() => _listener.Dispose();
}

public sealed record PoolSnapshot(long Idle, long Used, long Max, long Pending);
