using System.Buffers;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace Analytics.Api.Features.Events.LiveStream;

/// <summary>
/// Writes a live subscription as Server-Sent Events until the client goes away or the node stops: <c>: connected</c>
/// first, then <c>event: event</c> / <c>data: {json}</c> per event (<c>event: alert</c> per new alert, for admins), and
/// <c>: keep-alive</c> after each quiet interval.
/// </summary>
public sealed class EventStreamResponse(LiveSubscription subscription) : IResult
{
    public const string ContentType = "text/event-stream";

    private static readonly byte[] Connected = ": connected\n\n"u8.ToArray();
    private static readonly byte[] KeepAlive = ": keep-alive\n\n"u8.ToArray();
    private static readonly byte[] EventStart = "event: event\ndata: "u8.ToArray();
    private static readonly byte[] AlertStart = "event: alert\ndata: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        using (subscription)
        {
            var services = httpContext.RequestServices;
            var json = services.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
            var heartbeat = services.GetRequiredService<IOptions<EventsOptions>>().Value.LiveHeartbeat;
            var clock = services.GetRequiredService<TimeProvider>();
            var ct = httpContext.RequestAborted;

            var response = httpContext.Response;
            response.ContentType = ContentType;
            response.Headers.CacheControl = "no-cache";
            // Proxies such as nginx buffer responses unless told not to; a buffered stream is not live.
            response.Headers["X-Accel-Buffering"] = "no";
            httpContext.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();

            var body = response.BodyWriter;
            await using var writer = new Utf8JsonWriter(body);
            try
            {
                body.Write(Connected);
                await body.FlushAsync(ct);
                while (await NextAsync(subscription.Messages, heartbeat, clock, ct))
                {
                    if (!subscription.Messages.TryPeek(out _))
                    {
                        body.Write(KeepAlive);
                    }

                    while (subscription.Messages.TryRead(out var message))
                    {
                        body.Write(message.Name == LiveMessage.Alert ? AlertStart : EventStart);
                        writer.Reset(body);
                        JsonSerializer.Serialize(writer, message.Payload, message.Payload.GetType(), json);
                        await writer.FlushAsync(ct);
                        body.Write(EventEnd);
                    }

                    await body.FlushAsync(ct);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // The client went away: the normal end of a stream.
            }
        }
    }

    /// <summary>True when events are ready or <paramref name="heartbeat"/> passed without any; false when the subscription ended.</summary>
    private static async Task<bool> NextAsync(ChannelReader<LiveMessage> events, TimeSpan heartbeat, TimeProvider clock, CancellationToken ct)
    {
        using var quiet = new CancellationTokenSource(heartbeat, clock);
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct, quiet.Token);
        try
        {
            return await events.WaitToReadAsync(wait.Token);
        }
        catch (OperationCanceledException) when (quiet.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            return true;
        }
    }
}
