// The HTTP ceiling: the smallest Kestrel app that answers 200, run like the service (Production, Warning logs)
// and measured with the same wrk settings. GET / answers "ok"; POST / reads the body and answers 202.
// With BENCH_FLOOR_PG (a connection string) it also serves the durable floor, POST /events: the smallest durable
// ingestion endpoint on this stack. It binds the service's single-event JSON into the service's own record with the
// service's JSON options (the API is referenced for these and nothing else runs of it), queues the row for one writer loop
// that stores whatever is waiting in one binary COPY (one commit, fsync on), and answers 202 with the id only
// after that commit. No authentication, validation, rate limit, cache invalidation or live publication: what the
// service adds is what its single-event rate falls short of this one.
using System.Net;
using System.Text.Json;
using System.Threading.Channels;
using Analytics.Api.Features.Events;
using Analytics.Api.Features.Events.TrackEvent;
using Analytics.Api.Infrastructure.Database;
using Analytics.Api.Infrastructure.Http;
using Npgsql;
using NpgsqlTypes;
using SingleEvent = Analytics.Api.Features.Events.TrackEvent.TrackEvent.Command;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.ConfigureHttpJsonOptions(o => HttpApiExtensions.ConfigureJson(o.SerializerOptions));
var app = builder.Build();
app.MapGet("/", () => "ok");
app.MapPost("/", async (HttpRequest request) =>
{
    await request.Body.CopyToAsync(Stream.Null);
    return Results.Accepted();
});

if (Environment.GetEnvironmentVariable("BENCH_FLOOR_PG") is { Length: > 0 } connectionString)
{
    var floor = new DurableFloor(NpgsqlDataSource.Create(connectionString));
    app.MapPost("/events", async (SingleEvent e, HttpContext http) =>
        TypedResults.Accepted((string?)null, new TrackEvent.Accepted(await floor.StoreAsync(e, http.Connection.RemoteIpAddress, http.Request.Headers.UserAgent.ToString()), "accepted")));
    _ = floor.RunAsync(app.Lifetime.ApplicationStopping);
}

await app.RunAsync();

internal sealed class DurableFloor(NpgsqlDataSource db)
{
    // The columns the service's single event fills, into a table shaped like events (bench/run.sh creates it).
    private const string Copy = """
        copy bench_floor (id, occurred_at, received_at, type, name, user_id, api_key_id, external_user_id, session_id, url,
                          referrer, properties, ip, user_agent, device_type, browser, os,
                          utm_source, utm_medium, utm_campaign, utm_term, utm_content)
        from stdin (format binary)
        """;

    // As if sent with one API key: the row goes into the same partial index as the service's.
    private static readonly Guid ApiKeyId = Guid.CreateVersion7();

    private readonly Channel<(SingleEvent Event, Guid Id, IPAddress? Ip, string UserAgent, TaskCompletionSource Done)> _queue =
        Channel.CreateUnbounded<(SingleEvent, Guid, IPAddress?, string, TaskCompletionSource)>(new UnboundedChannelOptions { SingleReader = true });

    public async Task<Guid> StoreAsync(SingleEvent e, IPAddress? ip, string userAgent)
    {
        var id = Guid.CreateVersion7();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await _queue.Writer.WriteAsync((e, id, ip, userAgent, done));
        await done.Task;
        return id;
    }

    public async Task RunAsync(CancellationToken stopping)
    {
        var batch = new List<(SingleEvent Event, Guid Id, IPAddress? Ip, string UserAgent, TaskCompletionSource Done)>();
        while (await _queue.Reader.WaitToReadAsync(stopping))
        {
            batch.Clear();
            while (batch.Count < 2000 && _queue.Reader.TryRead(out var item))
            {
                batch.Add(item);
            }

            var now = DateTimeOffset.UtcNow;
            try
            {
                await using var connection = await db.OpenConnectionAsync(stopping);
                await using var copy = await connection.BeginBinaryImportAsync(Copy, stopping);
                foreach (var (e, id, ip, userAgent, _) in batch)
                {
                    await copy.StartRowAsync(stopping);
                    await copy.WriteAsync(id, NpgsqlDbType.Uuid, stopping);
                    await copy.WriteAsync((e.OccurredAt ?? now).ToUniversalTime(), NpgsqlDbType.TimestampTz, stopping);
                    await copy.WriteAsync(now, NpgsqlDbType.TimestampTz, stopping);
                    await copy.WriteAsync(EventRow.Stored(e.Type ?? EventType.Custom), NpgsqlDbType.Text, stopping);
                    await copy.WriteNullableAsync(e.Name, NpgsqlDbType.Text, stopping);
                    await copy.WriteNullAsync(stopping);
                    await copy.WriteAsync(ApiKeyId, NpgsqlDbType.Uuid, stopping);
                    await copy.WriteNullableAsync(e.ExternalUserId, NpgsqlDbType.Text, stopping);
                    await copy.WriteNullableAsync(e.SessionId, NpgsqlDbType.Text, stopping);
                    await copy.WriteNullableAsync(e.Url, NpgsqlDbType.Text, stopping);
                    await copy.WriteNullableAsync(e.Referrer, NpgsqlDbType.Text, stopping);
                    await copy.WriteNullableAsync(e.Properties is { Count: > 0 } p ? JsonSerializer.Serialize(p) : null, NpgsqlDbType.Jsonb, stopping);
                    await copy.WriteNullableAsync(ip, NpgsqlDbType.Inet, stopping);
                    await copy.WriteAsync(userAgent, NpgsqlDbType.Text, stopping);
                    await copy.WriteNullAsync(stopping);
                    await copy.WriteNullAsync(stopping);
                    await copy.WriteNullAsync(stopping);
                    await copy.WriteNullableAsync(e.UtmSource, NpgsqlDbType.Text, stopping);
                    await copy.WriteNullableAsync(e.UtmMedium, NpgsqlDbType.Text, stopping);
                    await copy.WriteNullableAsync(e.UtmCampaign, NpgsqlDbType.Text, stopping);
                    await copy.WriteNullableAsync(e.UtmTerm, NpgsqlDbType.Text, stopping);
                    await copy.WriteNullableAsync(e.UtmContent, NpgsqlDbType.Text, stopping);
                }

                await copy.CompleteAsync(stopping);
                foreach (var item in batch)
                {
                    item.Done.SetResult();
                }
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
            {
                foreach (var item in batch)
                {
                    item.Done.SetException(ex);
                }
            }
        }
    }
}
