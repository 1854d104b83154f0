using Analytics.Api.Infrastructure.Database;

namespace Analytics.Api.Features.Reports.Alerts;

/// <summary>
/// A failed-login incident as admins see it, in the API, in the live stream and on the event bus. <see cref="Scope"/>
/// is <c>global</c>, <c>ip</c> or <c>account</c>; <see cref="Subject"/> is <c>''</c>, the IP (an IPv6 client's /64 network, <c>2001:db8:1:2::/64</c>), or the user id (the
/// e-mail for an address without an account), and <see cref="Email"/> names the account for the account scope.
/// </summary>
public sealed record Alert(
    Guid Id,
    string Scope,
    string Subject,
    string? Email,
    DateTimeOffset OpenedAt,
    DateTimeOffset? ClosedAt,
    long WindowCount,
    long PeakCount,
    long Threshold,
    double? Baseline,
    DateTimeOffset? AcknowledgedAt,
    Guid? AcknowledgedBy)
{
    /// <summary>The event-bus topic that carries newly opened alerts to every node's live stream.</summary>
    public const string Topic = "alerts";

    public const string Global = "global";
    public const string Ip = "ip";
    public const string Account = "account";

    public string Status => ClosedAt is null ? "open" : "closed";

    // The account scope's subject is a user id, or the e-mail itself for failures on an address without an account.
    internal const string Columns = """
        a.id as Id, a.scope as Scope, a.subject as Subject,
        case when a.scope = 'account' then coalesce(u.email::text, a.subject) end as Email,
        a.opened_at as OpenedAt, a.closed_at as ClosedAt, a.window_count as WindowCount, a.peak_count as PeakCount,
        a.threshold as Threshold, a.baseline as Baseline, a.acknowledged_at as AcknowledgedAt, a.acknowledged_by as AcknowledgedBy
        """;

    // The cast sits inside the CASE, the one place PostgreSQL promises not to evaluate it for other subjects.
    internal const string From = """
        alerts a left join users u
            on u.id = case when a.scope = 'account' and a.subject not like '%@%' then a.subject::uuid end
        """;

    internal sealed record Row(
        Guid Id, string Scope, string Subject, string? Email, DateTime OpenedAt, DateTime? ClosedAt, long WindowCount, long PeakCount,
        long Threshold, double? Baseline, DateTime? AcknowledgedAt, Guid? AcknowledgedBy)
    {
        public Alert ToAlert() => new(Id, Scope, Subject, Email, OpenedAt.AsUtc(), ClosedAt.AsUtc(), WindowCount, PeakCount, Threshold, Baseline, AcknowledgedAt.AsUtc(), AcknowledgedBy);
    }
}
