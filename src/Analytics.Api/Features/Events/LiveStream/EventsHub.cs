using Analytics.Api.Features.Events.TrackEvent;
using Analytics.Api.Infrastructure.Auth;
using Analytics.Api.Infrastructure.Auth.ApiKeys;
using Analytics.Api.Infrastructure.Clients;
using Analytics.Api.Infrastructure.Errors;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.SignalR;

namespace Analytics.Api.Features.Events.LiveStream;

/// <summary>
/// <c>/hubs/events</c>, the live stream over SignalR (JSON protocol), for the same callers and events as the SSE
/// stream. Filters come with the connection's query string, <c>?type=&amp;name=</c>, as for the SSE stream. Once
/// subscribed the hub sends <c>subscribed</c> (the filter), then <c>event</c> for each event the caller may see, and
/// <c>alert</c> for each newly opened failed-login alert (admins only).
/// Clients may send <c>newEvent</c> with the body of <c>POST /api/v1/events</c>; it returns <c>{ id, status }</c>
/// or fails with a message, and the accepted event reaches every subscriber through the bus like any other.
/// </summary>
public sealed class EventsHub(IMediator mediator, TrackEvent.TrackEvent.Intake intake, IHubContext<EventsHub> hub) : Hub
{
    public const string Path = "/hubs/events";

    private static readonly object SubscriptionKey = new();
    private static readonly object RelayKey = new();

    public static HubEndpointConventionBuilder Map(IEndpointRouteBuilder app) =>
        app.MapHub<EventsHub>(Path)
            .WithMetadata(new CredentialsInQueryAttribute())
            .RequireUserOrApiKey();

    public override async Task OnConnectedAsync()
    {
        var query = Context.GetHttpContext()?.Request.Query;
        LiveSubscription subscription;
        try
        {
            subscription = await mediator.Send(LiveStream.Query.For(query?["type"], query?["name"], Context.User!), Context.ConnectionAborted);
        }
        catch (ValidationException ex)
        {
            throw new HubException(Describe(ex));
        }

        Context.Items[SubscriptionKey] = subscription;
        // Sent before the relay starts, so it comes before any event.
        await Clients.Caller.SendAsync("subscribed", subscription.Filter, Context.ConnectionAborted);
        Context.Items[RelayKey] = RelayAsync(hub.Clients.Client(Context.ConnectionId), subscription, Context);
    }

    public override async Task OnDisconnectedAsync(Exception? exception)
    {
        if (Context.Items.TryGetValue(SubscriptionKey, out var subscription))
        {
            ((LiveSubscription)subscription!).Dispose();
        }

        if (Context.Items.TryGetValue(RelayKey, out var relay))
        {
            await (Task)relay!;
        }

        await base.OnDisconnectedAsync(exception);
    }

    [HubMethodName("newEvent")]
    public async Task<TrackEvent.TrackEvent.Accepted> NewEvent(TrackEvent.TrackEvent.Command? e)
    {
        var http = Context.GetHttpContext();
        if (e is null || http is null)
        {
            throw new HubException("newEvent takes one argument: the event, as a JSON object like the body of POST /api/v1/events.");
        }

        Infrastructure.Results.Result<TrackEvent.TrackEvent.Accepted> result;
        try
        {
            result = await intake.TrackAsync(e with { Caller = Caller.From(Context.User!), Client = ClientContext.From(http) }, Context.ConnectionAborted);
        }
        catch (ValidationException ex)
        {
            throw new HubException(Describe(ex));
        }
        catch (EventStoreUnavailableException)
        {
            throw new HubException("The event store is unavailable right now; nothing was stored. Retry with the same event id.");
        }
        catch (Npgsql.PostgresException ex) when (UnstorableValue.Cause(ex) is { } refused)
        {
            throw new HubException(UnstorableValue.Problem(refused).Detail);
        }

        return result.IsSuccess ? result.Value! : throw new HubException($"{result.Error!.Title} {result.Error.Detail}");
    }

    // A hub connection's events go out through the hub context: the hub instance lives for one call only.
    // When the subscription ends without the client leaving (its access ended, the node stops), so does the connection:
    // it authenticated once, and newEvent must not outlive that either.
    private static async Task RelayAsync(IClientProxy client, LiveSubscription subscription, HubCallerContext connection)
    {
        await foreach (var message in subscription.Messages.ReadAllAsync())
        {
            await client.SendAsync(message.Name, message.Payload);
        }

        connection.Abort();
    }

    // Hub errors carry only a message: the ValidationProblem's field errors, in one line.
    private static string Describe(ValidationException exception) =>
        "One or more validation errors occurred: " + string.Join("; ", FieldErrors.From(exception.Errors)
            .Select(field => $"{field.Key}: {string.Join(" ", field.Value)}"));
}
