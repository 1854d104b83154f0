using Analytics.Api.Infrastructure.Caching;
using Analytics.Api.Infrastructure.OpenApi;
using Dapper;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Analytics.Api.Features.Analytics.Dashboard;

public sealed class DashboardOptions
{
    public const string Section = "Dashboard";

    /// <summary>How long an answer is cached per filter combination; 0 turns the cache off.</summary>
    public TimeSpan CacheFor { get; set; } = TimeSpan.FromMinutes(10);
}

/// <summary>
/// <c>GET /admin/dashboard</c>: headline numbers and per-day series for a role and a window. Multi-day figures come
/// from rollups, never from raw events. Answers are cached per filter; registrations, role and status changes
/// and every rollup run with new data make them stale, so high-rate activity shows within a rollup interval.
/// </summary>
public static class Dashboard
{
    public static readonly string[] Presets = ["24h", "7d", "30d", "90d"];
    public static readonly string[] RoleFilters = ["all", "user", "admin"];

    public sealed record Query(string? Role, string? Preset, DateTimeOffset? From, DateTimeOffset? To) : IRequest<Response>;

    public sealed record Window(DateTimeOffset From, DateTimeOffset To);

    public sealed record Metric(long Value, Window Window);

    public sealed record Totals(Metric TotalUsers, Metric ActiveUsers7d, Metric FailedLogins24h, Metric NewUsers7d);

    public sealed record Day(DateOnly Date, long Logins, long FailedLogins, long Registrations, long Events);

    public sealed record Response(string Role, Window Window, Totals Totals, IReadOnlyList<Day> Series, bool FromCache, DateTimeOffset ComputedAt);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator(TimeProvider clock)
        {
            RuleFor(q => q.Role).Must(r => r is null || RoleFilters.Contains(r)).WithMessage("Role must be one of: all, user, admin.");
            RuleFor(q => q.Preset).Must(p => p is null || Presets.Contains(p)).WithMessage("Preset must be one of: 24h, 7d, 30d, 90d.");
            RuleFor(q => q).Must(q => q.Preset is null || (q.From is null && q.To is null))
                .WithName("preset").WithMessage("Send either a preset or from/to, not both.");
            RuleFor(q => q).Must(q => Handler.Resolve(q, clock.GetUtcNow()).IsOrdered)
                .WithName("from").WithMessage("from must not be after to.");
            RuleFor(q => q).Must(q => Handler.Resolve(q, clock.GetUtcNow()).IsWithinLimit)
                .WithName("to").WithMessage($"The window may span at most {ReportingPeriod.MaxDays} days.");
        }
    }

    internal sealed class Handler(NpgsqlDataSource db, ICache cache, AnalyticsGenerations generations, IOptions<DashboardOptions> options, TimeProvider clock) : IRequestHandler<Query, Response>
    {
        // The headline numbers in one statement; with the series below, one round trip to the database.
        private const string TotalsSql = """
            select (select coalesce(sum(total), 0) from user_counts where @Role is null or role = @Role)::bigint as TotalUsers,
                   coalesce((select value from rollup_active_window where days = 7 and role = coalesce(@Role, 'all') and as_of <= @Today
                             order by as_of desc limit 1), 0) as ActiveUsers,
                   (select count(*) from activity_log a left join users u on u.id = a.user_id
                    where a.kind = 'login_failed' and a.occurred_at > @DaySince and (@Role is null or u.role = @Role)) as FailedLogins,
                   (select count(*) from users where created_at > @WeekSince and (@Role is null or role = @Role)) as NewUsers;
            """;

        private const string SeriesSql = """
            select (bucket at time zone 'UTC')::date as Day,
                   coalesce(sum(value) filter (where metric = 'logins'), 0)::bigint as Logins,
                   coalesce(sum(value) filter (where metric = 'failed_logins'), 0)::bigint as FailedLogins,
                   coalesce(sum(value) filter (where metric = 'registrations'), 0)::bigint as Registrations,
                   coalesce(sum(value) filter (where metric = 'events'), 0)::bigint as Events
            from rollup_hourly
            where bucket >= @From and bucket < @To and metric in ('logins', 'failed_logins', 'registrations', 'events')
              and (@Role is null or role = @Role)
            group by 1
            """;

        public async Task<Response> Handle(Query request, CancellationToken cancellationToken)
        {
            var role = request.Role is null or "all" ? null : request.Role;
            var ttl = options.Value.CacheFor;
            if (ttl <= TimeSpan.Zero)
            {
                return await ComputeAsync(request, role, cancellationToken);
            }

            var generation = await generations.CurrentAsync(AnalyticsGenerations.Dashboard, cancellationToken);
            var key = $"dashboard:g{generation}:{request.Role ?? "all"}:{request.Preset}:{request.From?.UtcTicks}:{request.To?.UtcTicks}";
            var (response, fromCache) = await cache.GetOrCreateAsync(key, ttl, ct => ComputeAsync(request, role, ct), cancellationToken);
            return response with { FromCache = fromCache };
        }

        private async Task<Response> ComputeAsync(Query request, string? role, CancellationToken ct)
        {
            var now = clock.GetUtcNow();
            var period = Resolve(request, now);
            var window = new Window(period.From, period.To);
            var today = DateOnly.FromDateTime(now.UtcDateTime);
            var sevenDays = new Window(now.AddDays(-7), now);
            var day = new Window(now.AddDays(-1), now);

            // Whole UTC hours, so that the rollups answer exactly.
            var from = Floor(window.From);
            var to = Floor(window.To).AddHours(1);
            await using var connection = await db.OpenConnectionAsync(ct);
            await using var results = await connection.QueryMultipleAsync(new CommandDefinition(
                TotalsSql + SeriesSql,
                new { Role = role, Today = today, DaySince = day.From, WeekSince = sevenDays.From, From = from, To = to },
                cancellationToken: ct));
            var (total, active, failed, newUsers) = await results.ReadSingleAsync<(long, long, long, long)>();
            var rows = (await results.ReadAsync<DayRow>()).ToDictionary(r => r.Day);
            var series = new ReportingPeriod(from, to).Days()
                .Select(d => rows.TryGetValue(d, out var r) ? new Day(d, r.Logins, r.FailedLogins, r.Registrations, r.Events) : new Day(d, 0, 0, 0, 0))
                .ToList();

            var totals = new Totals(new Metric(total, new Window(DateTimeOffset.UnixEpoch, now)), new Metric(active, sevenDays), new Metric(failed, day), new Metric(newUsers, sevenDays));
            return new Response(request.Role ?? "all", window, totals, series, false, now);
        }

        internal static ReportingPeriod Resolve(Query request, DateTimeOffset now)
        {
            var span = request.Preset switch
            {
                "24h" => TimeSpan.FromHours(24),
                "30d" => TimeSpan.FromDays(30),
                "90d" => TimeSpan.FromDays(90),
                _ => TimeSpan.FromDays(7),
            };
            return ReportingPeriod.Resolve(request.From, request.To, now, span);
        }

        private static DateTimeOffset Floor(DateTimeOffset at) => new(at.UtcDateTime.Year, at.UtcDateTime.Month, at.UtcDateTime.Day, at.UtcDateTime.Hour, 0, 0, TimeSpan.Zero);

        private sealed record DayRow(DateOnly Day, long Logins, long FailedLogins, long Registrations, long Events);
    }

    public static RouteHandlerBuilder Map(IEndpointRouteBuilder admin) =>
        admin.MapGet("/dashboard", Endpoint)
            .WithName("Dashboard")
            .WithSummary("Total users, active users (7 days), failed logins (24 h), new users (7 days), and per-day series for a window.")
            .WithDescription("role: all | user | admin. Window: preset (24h, 7d, 30d, 90d; default 7d) or from/to. Each metric states its window; fromCache and computedAt say how fresh the answer is.")
            .ProducesErrors(400, 401, 403);

    private static async Task<Ok<Response>> Endpoint(IMediator mediator, CancellationToken ct, string? role = null, string? preset = null, DateTimeOffset? from = null, DateTimeOffset? to = null) =>
        TypedResults.Ok(await mediator.Send(new Query(role, preset, from, to), ct));
}
