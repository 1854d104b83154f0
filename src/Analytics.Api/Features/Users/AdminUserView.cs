using Analytics.Api.Features.Identity;
using Analytics.Api.Infrastructure.Database;

namespace Analytics.Api.Features.Users;

/// <summary>A user as an admin sees one: the public view plus lockout state and attribution.</summary>
public sealed record AdminUserView(
    UserView User,
    int FailedLogins,
    DateTimeOffset? LockedUntil,
    string? PendingEmail,
    string? ReferrerUrl,
    string? LandingPage,
    string? UtmSource,
    string? UtmMedium,
    string? UtmCampaign,
    string? UtmTerm,
    string? UtmContent,
    DateTimeOffset? LastSeenAt)
{
    public const string Columns = $"""
        {UserView.Columns}, u.failed_logins as FailedLogins, u.locked_until as LockedUntil, u.pending_email as PendingEmail,
        u.referrer_url as ReferrerUrl, u.landing_page as LandingPage, u.utm_source as UtmSource, u.utm_medium as UtmMedium,
        u.utm_campaign as UtmCampaign, u.utm_term as UtmTerm, u.utm_content as UtmContent,
        (select max(s.last_seen_at) from sessions s where s.user_id = u.id) as LastSeenAt
        """;

    internal sealed record Row(
        Guid Id, string Email, string? DisplayName, short? Age, string? Gender, string Role, string Status, DateTime CreatedAt, DateTime? ActivatedAt,
        int FailedLogins, DateTime? LockedUntil, string? PendingEmail,
        string? ReferrerUrl, string? LandingPage, string? UtmSource, string? UtmMedium, string? UtmCampaign, string? UtmTerm, string? UtmContent,
        DateTime? LastSeenAt)
    {
        public AdminUserView ToView() => new(
            new UserView.Row(Id, Email, DisplayName, Age, Gender, Role, Status, CreatedAt, ActivatedAt).ToView(),
            FailedLogins,
            LockedUntil.AsUtc(),
            PendingEmail,
            ReferrerUrl,
            LandingPage,
            UtmSource,
            UtmMedium,
            UtmCampaign,
            UtmTerm,
            UtmContent,
            LastSeenAt.AsUtc());
    }
}
