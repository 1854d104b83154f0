// The HTTP ceiling: the smallest Kestrel app that answers 200, run like the service (Production, Warning logs)
// and measured with the same wrk settings. GET / answers "ok"; POST / reads the body and answers 202.
// With BENCH_FLOOR_PG (a connection string) it also serves the durable floor, POST /events: the smallest durable
// ingestion endpoint on this stack. It binds the service's single-event JSON into the service's own record with the
// service's JSON options, makes the service's row of it, queues that for one writer loop that stores whatever is
// waiting with the service's row writer in one binary COPY (one commit, fsync on), and answers 202 with the id only
// after that commit (the API is referenced for these and nothing else runs of it). No authentication, validation,
// rate limit, user-agent parsing, cache invalidation or live publication: what the service adds is what its
// single-event rate falls short of this one.
using System.Threading.Channels;
using Analytics.Api.Features.Events.TrackEvent;
using Analytics.Api.Infrastructure.Auth;
using Analytics.Api.Infrastructure.Clients;
using Analytics.Api.Infrastructure.Http;
using Npgsql;
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
        TypedResults.Accepted((string?)null, new TrackEvent.Accepted(await floor.StoreAsync(e, http), "accepted")));
    _ = floor.RunAsync(app.Lifetime.ApplicationStopping);
}

await app.RunAsync();

internal sealed class DurableFloor(NpgsqlDataSource db)
{
    // Into a table shaped like events (bench/run.sh creates it), the columns the service writes.
    private const string Copy = $"copy bench_floor ({EventRow.CopyColumns}) from stdin (format binary)";

    // As if sent with one API key (the row goes into the same partial index as the service's), from a user agent
    // left unparsed.
    private static readonly Caller Sender = new(null, Guid.CreateVersion7(), Guid.CreateVersion7(), false);

    private readonly Channel<(EventRow Row, TaskCompletionSource Done)> _queue =
        Channel.CreateUnbounded<(EventRow, TaskCompletionSource)>(new UnboundedChannelOptions { SingleReader = true });

    public async Task<Guid> StoreAsync(SingleEvent e, HttpContext http)
    {
        var client = new ClientContext(http.Connection.RemoteIpAddress, http.Request.Headers.UserAgent.ToString(), UserAgentInfo.Unknown);
        var row = TrackEvent.Intake.ToRow(e, Sender, client, DateTimeOffset.UtcNow);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await _queue.Writer.WriteAsync((row, done));
        await done.Task;
        return row.Id;
    }

    public async Task RunAsync(CancellationToken stopping)
    {
        var batch = new List<(EventRow Row, TaskCompletionSource Done)>();
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
                await EventCopy.WriteAsync(connection, Copy, batch.ConvertAll(item => item.Row), now, stopping);
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
