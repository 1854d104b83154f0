using Analytics.Api.Infrastructure.Auth;
using Analytics.Api.Infrastructure.Auth.ApiKeys;
using Analytics.Api.Infrastructure.OpenApi;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Mvc;

namespace Analytics.Api.Features.Events.LiveStream;

/// <summary>
/// <c>GET /events/stream</c>: Server-Sent Events of each accepted event as it is committed, on any node, that the
/// caller may see (admins: all; a user: their own; an API key: its own), optionally only of one <c>type</c> and/or
/// <c>name</c>. The <c>/hubs/events</c> SignalR hub subscribes through the same query.
/// </summary>
#pragma warning disable CA1711 // The feature's name (ARCHITECTURE.md), not a System.IO.Stream.
public static class LiveStream
#pragma warning restore CA1711
{
    public sealed record Query(string? Type, string? Name) : IRequest<LiveSubscription>
    {
        internal Caller Caller { get; init; } = null!;

        /// <summary>The signed-in user (null for an API key), whose session the stream checks again while open.</summary>
        internal CurrentUser? User { get; init; }

        /// <summary>
        /// Until when the access token is accepted (its expiry plus the validator's clock skew), when the stream ends:
        /// a stream opened late in that window is not ended at once, so a reconnecting EventSource gets a 401, not a
        /// loop of streams that open and end. Null for an API key.
        /// </summary>
        internal DateTimeOffset? AccessUntil { get; init; }

        internal static Query For(string? type, string? name, System.Security.Claims.ClaimsPrincipal principal) =>
            new(type, name) { Caller = Caller.From(principal), User = CurrentUser.From(principal), AccessUntil = CurrentUser.ExpiresAt(principal) + AccessTokens.ClockSkew };
    }

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(q => q.Type).Must(t => string.IsNullOrEmpty(t) || LiveFilter.TryParseType(t, out _))
                .WithMessage("Type must be page_view, click, feature_click, login or custom.");
            RuleFor(q => q.Name).MaximumLength(TrackEvent.TrackEvent.MaxNameLength)
                .WithMessage($"Name must have at most {TrackEvent.TrackEvent.MaxNameLength} characters.");
        }
    }

    internal sealed class Handler(LiveEvents live) : IRequestHandler<Query, LiveSubscription>
    {
        public Task<LiveSubscription> Handle(Query request, CancellationToken cancellationToken)
        {
            EventType? type = LiveFilter.TryParseType(request.Type ?? "", out var parsed) ? parsed : null;
            var name = string.IsNullOrWhiteSpace(request.Name) ? null : request.Name.Trim();
            return live.SubscribeAsync(request.Caller, request.User, request.AccessUntil, new LiveFilter(type, name));
        }
    }

    public static RouteHandlerBuilder Map(IEndpointRouteBuilder api) =>
        api.MapGet("/events/stream", Stream)
            .WithName("LiveEventStream")
            .WithSummary("Server-Sent Events: each event you may see, as it is committed on any node. By JWT or API key.")
            .WithDescription("""
                Admins see every event, a user their own, an API key its own app's. `type` and `name` narrow the stream.
                The stream starts with the comment `: connected` once subscribed, sends each event as `event: event` with
                the JSON of the event as `data`, and a `: keep-alive` comment after 15 s of silence. Admins also get each
                newly opened failed-login alert as `event: alert` (whatever the filter). A subscriber that
                reads too slowly skips the oldest of more than 1,000 buffered events. Browsers' EventSource cannot send
                headers: this endpoint also takes `access_token=<JWT>` or `api_key=<key>` in the query string. The stream
                ends within 10 s of the caller losing access (access token expired, signed out, session revoked, role
                changed, account disabled, API key revoked); reconnect with a fresh token.
                """)
            .WithMetadata(new CredentialsInQueryAttribute())
            .Produces<string>(StatusCodes.Status200OK, EventStreamResponse.ContentType)
            .ProducesErrors(400, 401)
            .RequireUserOrApiKey();

    private static async Task<EventStreamResponse> Stream([FromQuery] string? type, [FromQuery] string? name, IMediator mediator, HttpContext http, CancellationToken ct) =>
        new(await mediator.Send(Query.For(type, name, http.User), ct));
}
