using Analytics.Api.Infrastructure.Auth;
using Analytics.Api.Infrastructure.Database;
using Analytics.Api.Infrastructure.OpenApi;
using Dapper;
using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Analytics.Api.Features.Identity.Sessions;

/// <summary><c>GET /users/me/sessions</c>: the caller's live sessions, most recently used first, the current one marked.</summary>
public static class ListSessions
{
    public sealed record Query(CurrentUser User) : IRequest<IReadOnlyList<SessionView>>;

    public sealed record SessionView(
        Guid Id,
        bool Current,
        string? Ip,
        string? UserAgent,
        string? DeviceType,
        string? Browser,
        string? BrowserVersion,
        string? Os,
        string? OsVersion,
        string? DeviceFingerprint,
        string? CountryCode,
        double? Latitude,
        double? Longitude,
        string? Timezone,
        string? ReferrerUrl,
        string? LandingPage,
        string? UtmSource,
        string? UtmMedium,
        string? UtmCampaign,
        string? UtmTerm,
        string? UtmContent,
        DateTimeOffset CreatedAt,
        DateTimeOffset LastSeenAt,
        DateTimeOffset ExpiresAt);

    internal sealed class Handler(NpgsqlDataSource db, TimeProvider clock) : IRequestHandler<Query, IReadOnlyList<SessionView>>
    {
        private const string Sql = """
            select id as Id, host(ip) as Ip, user_agent as UserAgent, device_type as DeviceType, browser as Browser,
                   browser_version as BrowserVersion, os as Os, os_version as OsVersion, device_fingerprint as DeviceFingerprint,
                   country_code as CountryCode, latitude as Latitude, longitude as Longitude, timezone as Timezone,
                   referrer_url as ReferrerUrl, landing_page as LandingPage, utm_source as UtmSource, utm_medium as UtmMedium,
                   utm_campaign as UtmCampaign, utm_term as UtmTerm, utm_content as UtmContent,
                   created_at as CreatedAt, last_seen_at as LastSeenAt, expires_at as ExpiresAt
            from sessions
            where user_id = @UserId and revoked_at is null and expires_at > @Now
            order by last_seen_at desc
            """;

        public async Task<IReadOnlyList<SessionView>> Handle(Query request, CancellationToken cancellationToken)
        {
            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            var rows = await connection.QueryAsync<Row>(new CommandDefinition(Sql, new { UserId = request.User.Id, Now = clock.GetUtcNow() }, cancellationToken: cancellationToken));
            return [.. rows.Select(r => r.ToView(r.Id == request.User.SessionId))];
        }

        private sealed record Row(
            Guid Id, string? Ip, string? UserAgent, string? DeviceType, string? Browser, string? BrowserVersion, string? Os, string? OsVersion,
            string? DeviceFingerprint, string? CountryCode, double? Latitude, double? Longitude, string? Timezone,
            string? ReferrerUrl, string? LandingPage, string? UtmSource, string? UtmMedium, string? UtmCampaign, string? UtmTerm, string? UtmContent,
            DateTime CreatedAt, DateTime LastSeenAt, DateTime ExpiresAt)
        {
            public SessionView ToView(bool current) => new(
                Id, current, Ip, UserAgent, DeviceType, Browser, BrowserVersion, Os, OsVersion, DeviceFingerprint, CountryCode, Latitude, Longitude, Timezone,
                ReferrerUrl, LandingPage, UtmSource, UtmMedium, UtmCampaign, UtmTerm, UtmContent,
                CreatedAt.AsUtc(), LastSeenAt.AsUtc(), ExpiresAt.AsUtc());
        }
    }

    public static RouteHandlerBuilder Map(IEndpointRouteBuilder api) =>
        api.MapGet("/users/me/sessions", Endpoint)
            .WithName("ListSessions")
            .WithSummary("Your signed-in sessions with device, IP, location and attribution; 'current' marks this one.")
            .ProducesErrors(401)
            .RequireAuthorization();

    private static async Task<Ok<IReadOnlyList<SessionView>>> Endpoint(IMediator mediator, HttpContext http, CancellationToken ct) =>
        TypedResults.Ok(await mediator.Send(new Query(CurrentUser.From(http.User)!), ct));
}
