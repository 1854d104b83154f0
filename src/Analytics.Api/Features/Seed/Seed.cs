using System.Security.Cryptography;
using Analytics.Api.Features.Events;
using Analytics.Api.Features.Identity;
using Analytics.Api.Features.Reports.Rollups;
using Analytics.Api.Infrastructure.Auth.ApiKeys;
using Analytics.Api.Infrastructure.Activity;
using Analytics.Api.Infrastructure.Caching;
using Analytics.Api.Infrastructure.Database;
using Analytics.Api.Infrastructure.Security;
using Dapper;
using MediatR;
using Microsoft.Extensions.Options;
using Npgsql;
using DailyReports = Analytics.Api.Features.Reports.DailyReport.DailyReport;

namespace Analytics.Api.Features.Seed;

/// <summary>A seed that cannot go on (an unusable configured admin, an address taken by a non-admin), said in one line.</summary>
public sealed class SeedException(string message) : Exception(message);

/// <summary>
/// <c>Analytics.Api seed [--users N] [--events N] [--days N]</c>: an admin, ten demo users, their clicks, events and
/// sign-ins over the last 60 days, a demo API key, then rollups and daily reports, so that every dashboard and
/// chart has data at once. Optionally generated users and events at scale for benchmarks (<see cref="GeneratedData"/>).
/// Running it again adds nothing: every row has a stable key (see <see cref="DemoData"/>).
/// </summary>
public static class Seed
{
    public const int DefaultDays = 30;

    /// <summary>Daily reports are backfilled this far back, so generated data further back would have no report.</summary>
    public const int MaxDays = DailyReports.BackfillDays;

    /// <summary>Users and Events: generated rows wanted in total (0: none), spread over the last Days days.</summary>
    public sealed record Command(int Users = 0, long Events = 0, int Days = DefaultDays) : IRequest<Summary>
    {
        internal SeedProgress Progress { get; init; } = SeedProgress.Silent;
    }

    /// <summary>What to tell the operator. AdminPassword and ApiKey are set only by the run that created them: shown once.</summary>
    public sealed record Summary(
        string AdminEmail,
        string? AdminPassword,
        bool AdminConfigured,
        IReadOnlyList<string> DemoUsers,
        string DemoPassword,
        string? ApiKey,
        string ApiKeyPrefix,
        Added Added,
        long GeneratedUsers,
        long GeneratedEvents,
        long TotalUsers,
        long RolledUpEvents,
        long Reports);

    public sealed record Added(long Users, long Events, long Activity, long GeneratedUsers, long GeneratedEvents)
    {
        public bool Any => Users + Events + Activity + GeneratedUsers + GeneratedEvents > 0;
    }

    internal sealed class Handler(
        NpgsqlDataSource db,
        IPasswordHasher hasher,
        PasswordPolicy policy,
        IOptions<AdminBootstrapOptions> adminOptions,
        Rollups rollups,
        IMediator mediator,
        AnalyticsGenerations generations,
        CommittedChanges committed,
        TimeProvider clock) : IRequestHandler<Command, Summary>
    {
        private const string AnalyzeSql = "analyze users; analyze events; analyze activity_log";

        private const string FindUserSql = """
            select id as Id, role as Role, status as Status, password_hash as PasswordHash, created_at as CreatedAt
            from users where email = @Email::citext
            """;

        private const string InsertAdminSql = """
            insert into users (id, email, password_hash, display_name, role, status, created_at, updated_at, activated_at)
            values (@Id, @Email, @Hash, 'Administrator', 'admin', 'active', @CreatedAt, @CreatedAt, @CreatedAt)
            on conflict (email) do nothing
            """;

        private const string InsertUsersSql = """
            insert into users (id, email, password_hash, display_name, age, gender, role, status, created_at, updated_at, activated_at)
            select t.id, t.email, @Hash, t.display_name, t.age, t.gender, 'user', 'active', t.created_at, t.created_at, t.created_at
            from unnest(@Ids, @Emails, @Names, @Ages, @Genders, @CreatedAt) as t(id, email, display_name, age, gender, created_at)
            on conflict (email) do nothing
            """;

        private const string DemoUsersSql = """
            select email::text as Email, id as Id, created_at as CreatedAt from users where email = any(@Emails::citext[])
            """;

        private const string FindKeySql = """
            select id as Id, public_id as PublicId from api_keys where user_id = @UserId and name = @Name order by created_at limit 1
            """;

        private const string InsertKeySql = """
            insert into api_keys (id, user_id, name, public_id, secret_hash, created_at)
            values (@Id, @UserId, @Name, @PublicId, @SecretHash, @CreatedAt)
            """;

        private const string InsertActivitySql = """
            insert into activity_log (user_id, kind, occurred_at, ip, user_agent, details)
            select t.user_id, t.kind, t.occurred_at, t.ip, t.user_agent, t.details
            from unnest(@UserIds, @Kinds, @OccurredAt, @Ips, @UserAgents, @Details::jsonb[])
                as t(user_id, kind, occurred_at, ip, user_agent, details)
            where not exists (select 1 from activity_log a where a.kind = t.kind and a.details->>'seed' = t.details->>'seed')
            """;

        // event_ids is pruned after 30 days (maintenance): the marker keeps a later run from adding the set again.
        private const string DemoEventsExistSql = """
            select exists (select 1 from events where user_id = any(@UserIds) and properties @> '{"seed": "demo"}')
            """;

        private const string InsertEventsSql = """
            with incoming as (
                select * from unnest(@Ids, @OccurredAt, @Types, @Names, @UserIds, @ApiKeyIds, @ExternalUserIds, @Urls, @DeviceTypes, @Browsers, @Oses)
                    as t(id, occurred_at, type, name, user_id, api_key_id, external_user_id, url, device_type, browser, os)
            ), fresh as (
                insert into event_ids (id, received_at) select id, @Now from incoming
                on conflict (id) where owner_id is null do nothing
                returning id
            )
            insert into events (id, occurred_at, received_at, type, name, user_id, api_key_id, external_user_id, url, properties,
                                device_type, browser, os)
            select i.id, i.occurred_at, i.occurred_at, i.type, i.name, i.user_id, i.api_key_id, i.external_user_id, i.url,
                   '{"seed": "demo"}'::jsonb, i.device_type, i.browser, i.os
            from incoming i join fresh f on f.id = i.id
            """;

        // Seeded rows are history (occurred and received in the past): the incremental rollups must look back that far.
        private const string RewindRollupsSql = "update job_watermarks set watermark = least(watermark, @At) where name = @Name";

        // Reports of the seeded days were built without the seeded rows; the report job regenerates missing days.
        private const string DropReportsSql = "delete from daily_reports where day >= @From";

        // A run that stopped after writing rows but before its reports left days without one.
        private const string ReportsMissingSql = """
            select exists (select 1 from generate_series(@From, @Last, interval '1 day') d
                           where not exists (select 1 from daily_reports r where r.day = d::date))
            """;

        private const string CountsSql = """
            select (select coalesce(sum(total), 0) from user_counts)::bigint as Users,
                   (select coalesce(sum(value), 0) from rollup_hourly where metric = 'events')::bigint as Events,
                   (select count(*) from daily_reports where day >= @From) as Reports
            """;

        public async Task<Summary> Handle(Command request, CancellationToken cancellationToken)
        {
            var progress = request.Progress;
            var now = clock.GetUtcNow();
            var since = now.AddDays(-DemoData.Days);

            progress.Phase("demo: admin, users, API key, sign-ins and events");
            var (adminEmail, admin, adminPassword) = await EnsureAdminAsync(since, now, cancellationToken);
            var demoHash = await hasher.HashAsync(DemoData.Password, cancellationToken);
            var (addedUsers, users) = await EnsureDemoUsersAsync(demoHash, now, cancellationToken);
            var (apiKeyId, apiKey, apiKeyPrefix) = await EnsureApiKeyAsync(admin.Id, since, cancellationToken);
            var activity = DemoData.Activity(users, admin, now);
            var addedActivity = await InsertActivityAsync(activity, cancellationToken);
            if (addedActivity > 0)
            {
                // Recent-activity lists cached before the seed (a running node, a shared Redis) do not have these rows.
                foreach (var userId in activity.Select(a => a.UserId).OfType<Guid>().Distinct())
                {
                    await committed.ActivityAsync(userId);
                }
            }

            var addedEvents = await InsertDemoEventsAsync(users, apiKeyId, now, cancellationToken);

            var generated = new GeneratedData(db, progress);
            long generatedUsers = 0, generatedEvents = 0;
            if (request.Users > 0)
            {
                progress.Phase($"users: generating up to {request.Users} (one shared password hash)");
                generatedUsers = await generated.UsersAsync(request.Users, demoHash, now, request.Days, cancellationToken);
            }

            if (request.Events > 0)
            {
                var userIds = await generated.UserIdsAsync(cancellationToken);
                progress.Phase($"events: generating up to {request.Events} over {request.Days} days ({(userIds.Count > 0 ? userIds.Count : users.Count)} users and the API key)");
                generatedEvents = await generated.EventsAsync(request.Events, userIds.Count > 0 ? userIds : [.. users.Select(u => u.Id)], apiKeyId, now, request.Days, cancellationToken);
            }

            var added = new Added(addedUsers, addedEvents, addedActivity, generatedUsers, generatedEvents);
            var from = DateOnly.FromDateTime(now.AddDays(-Math.Max(DemoData.Days, request.Days) - 1).UtcDateTime);
            await using (var connection = await db.OpenConnectionAsync(cancellationToken))
            {
                var last = DateOnly.FromDateTime(now.UtcDateTime).AddDays(-1);
                // Reports only within the daily job's backfill: one older than that would be dropped for good and, missing,
                // make every later run rebuild everything.
                var reportsFrom = from < last.AddDays(1 - MaxDays) ? last.AddDays(1 - MaxDays) : from;
                if (added.Any || await connection.ExecuteScalarAsync<bool>(new CommandDefinition(ReportsMissingSql, new { From = reportsFrom, Last = last }, cancellationToken: cancellationToken)))
                {
                    var at = new DateTimeOffset(from.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
                    await connection.ExecuteAsync(new CommandDefinition(RewindRollupsSql, new { At = at, Name = RollupWatermark.Name }, cancellationToken: cancellationToken));
                    await connection.ExecuteAsync(new CommandDefinition(DropReportsSql, new { From = reportsFrom }, cancellationToken: cancellationToken));
                }

                // Fresh statistics before the rollups read what was just copied in: on a new database autovacuum has
                // not analysed yet, and planned for empty tables the rollups took 70 s instead of 16 s at 1M events.
                if (added.Any)
                {
                    await connection.ExecuteAsync(new CommandDefinition(AnalyzeSql, commandTimeout: 600, cancellationToken: cancellationToken));
                }
            }

            var started = clock.GetTimestamp();
            progress.Phase("rollups: recomputing the hours the seed touched (a while on millions of events)");
            var rolled = await rollups.RunAsync(cancellationToken);
            progress.Phase($"rollups: {rolled.HoursRecomputed} hours, {rolled.DaysRecomputed} days in {clock.GetElapsedTime(started).TotalSeconds:0.0} s");
            progress.Phase("daily reports: generating the missing days");
            var reports = await mediator.Send(new DailyReports.Scheduled(), cancellationToken);
            progress.Phase($"daily reports: {reports.Count} generated");

            // Answers cached before the seed (another node, a shared Redis) describe data without it.
            await generations.BumpAsync(
                [AnalyticsGenerations.Dashboard, AnalyticsGenerations.AllFeatureClicks, AnalyticsGenerations.AllKeyUsage, AnalyticsGenerations.KeyUsageOf(admin.Id), .. users.Select(u => AnalyticsGenerations.FeatureClicksOf(u.Id))],
                CancellationToken.None);

            await using (var connection = await db.OpenConnectionAsync(cancellationToken))
            {
                var counts = await connection.QuerySingleAsync<CountsRow>(new CommandDefinition(CountsSql, new { From = from }, cancellationToken: cancellationToken));
                return new Summary(
                    adminEmail, adminPassword, AdminBootstrap.IsConfigured(adminOptions.Value), [.. DemoData.Users.Select(u => u.Email)], DemoData.Password, apiKey, apiKeyPrefix,
                    added, generatedUsers, generatedEvents, counts.Users, counts.Events, counts.Reports);
            }
        }

        private async Task<(string Email, DemoData.Account Admin, string? GeneratedPassword)> EnsureAdminAsync(DateTimeOffset since, DateTimeOffset now, CancellationToken ct)
        {
            var options = adminOptions.Value;
            var configured = AdminBootstrap.IsConfigured(options);
            var email = IdentityRules.Normalise(configured ? options.Email! : DemoData.DefaultAdminEmail);
            if (configured && AdminBootstrap.Unusable(email, options.Password, policy) is { } reason)
            {
                throw new SeedException(reason);
            }

            await using var connection = await db.OpenConnectionAsync(ct);
            var existing = await connection.QuerySingleOrDefaultAsync<UserRow>(new CommandDefinition(FindUserSql, new { Email = email }, cancellationToken: ct));
            if (existing is null)
            {
                var password = configured ? options.Password! : RandomNumberGenerator.GetString("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789", 20);
                var hash = await hasher.HashAsync(password, ct);
                await connection.ExecuteAsync(new CommandDefinition(InsertAdminSql, new { Id = Guid.CreateVersion7(since), Email = email, Hash = hash, CreatedAt = since }, cancellationToken: ct));
                existing = await connection.QuerySingleAsync<UserRow>(new CommandDefinition(FindUserSql, new { Email = email }, cancellationToken: ct));
                return (email, Account(existing), configured ? null : password);
            }

            var isAdmin = existing is { Role: "admin", Status: "active" };
            if (configured && !(isAdmin && (await hasher.VerifyAsync(existing.PasswordHash, options.Password!, ct)).Matches))
            {
                // As at start-up: whoever registered the configured address first does not keep it as theirs.
                var hash = await hasher.HashAsync(options.Password!, ct);
                await AdminBootstrap.UpsertAsync(connection, email, hash, now, ct);
            }
            else if (!configured && !isAdmin)
            {
                throw new SeedException($"{email} exists but is not an active admin: set Admin__Email and Admin__Password to seed with another admin.");
            }

            return (email, Account(existing), null);
        }

        private async Task<(long Added, IReadOnlyList<DemoData.Account> Users)> EnsureDemoUsersAsync(string hash, DateTimeOffset now, CancellationToken ct)
        {
            var demo = DemoData.Users;
            var createdAt = demo.Select(u => now.AddDays(-u.RegisteredDaysAgo).AddHours(-u.Age % 9).UtcDateTime).ToArray();
            var emails = demo.Select(u => u.Email).ToArray();
            await using var connection = await db.OpenConnectionAsync(ct);
            var added = await connection.ExecuteAsync(new CommandDefinition(
                InsertUsersSql,
                new
                {
                    Hash = hash,
                    Ids = createdAt.Select(c => Guid.CreateVersion7(c)).ToArray(),
                    Emails = emails,
                    Names = demo.Select(u => u.DisplayName).ToArray(),
                    Ages = demo.Select(u => u.Age).ToArray(),
                    Genders = demo.Select(u => u.Gender).ToArray(),
                    CreatedAt = createdAt,
                },
                cancellationToken: ct));
            var rows = (await connection.QueryAsync<(string Email, Guid Id, DateTime CreatedAt)>(new CommandDefinition(DemoUsersSql, new { Emails = emails }, cancellationToken: ct)))
                .ToDictionary(r => r.Email, StringComparer.OrdinalIgnoreCase);
            return (added, [.. emails.Select(e => new DemoData.Account(rows[e].Id, rows[e].CreatedAt.AsUtc()))]);
        }

        private async Task<(Guid Id, string? Key, string Prefix)> EnsureApiKeyAsync(Guid adminId, DateTimeOffset createdAt, CancellationToken ct)
        {
            await using var connection = await db.OpenConnectionAsync(ct);
            var existing = await connection.QuerySingleOrDefaultAsync<KeyRow>(new CommandDefinition(FindKeySql, new { UserId = adminId, Name = DemoData.ApiKeyName }, cancellationToken: ct));
            if (existing is not null)
            {
                return (existing.Id, null, ApiKeyFormat.Prefix + existing.PublicId);
            }

            var (key, publicId, secretHash) = ApiKeyFormat.New();
            var id = Guid.CreateVersion7(createdAt);
            await connection.ExecuteAsync(new CommandDefinition(InsertKeySql, new { Id = id, UserId = adminId, Name = DemoData.ApiKeyName, PublicId = publicId, SecretHash = secretHash, CreatedAt = createdAt }, cancellationToken: ct));
            return (id, key, ApiKeyFormat.Prefix + publicId);
        }

        private async Task<long> InsertActivityAsync(List<DemoData.ActivityRow> rows, CancellationToken ct)
        {
            await using var connection = await db.OpenConnectionAsync(ct);
            return await connection.ExecuteAsync(new CommandDefinition(
                InsertActivitySql,
                new
                {
                    UserIds = rows.Select(r => r.UserId).ToArray(),
                    Kinds = rows.Select(r => r.Kind).ToArray(),
                    OccurredAt = rows.Select(r => r.OccurredAt).ToArray(),
                    Ips = rows.Select(r => r.Ip).ToArray(),
                    UserAgents = rows.Select(r => r.UserAgent).ToArray(),
                    Details = rows.Select(r => r.Details).ToArray(),
                },
                cancellationToken: ct));
        }

        private async Task<long> InsertDemoEventsAsync(IReadOnlyList<DemoData.Account> users, Guid apiKeyId, DateTimeOffset now, CancellationToken ct)
        {
            await using var connection = await db.OpenConnectionAsync(ct);
            var userIds = users.Select(u => u.Id).ToArray();
            if (await connection.ExecuteScalarAsync<bool>(new CommandDefinition(DemoEventsExistSql, new { UserIds = userIds }, cancellationToken: ct)))
            {
                return 0;
            }

            var rows = DemoData.Events(users, apiKeyId, now);
            await EventPartitions.EnsureAsync(connection, now, ct);

            return await connection.ExecuteAsync(new CommandDefinition(
                InsertEventsSql,
                new
                {
                    Ids = rows.Select(r => r.Id).ToArray(),
                    OccurredAt = rows.Select(r => r.OccurredAt).ToArray(),
                    Types = rows.Select(r => r.Type).ToArray(),
                    Names = rows.Select(r => r.Name).ToArray(),
                    UserIds = rows.Select(r => r.UserId).ToArray(),
                    ApiKeyIds = rows.Select(r => r.ApiKeyId).ToArray(),
                    ExternalUserIds = rows.Select(r => r.ExternalUserId).ToArray(),
                    Urls = rows.Select(r => r.Url).ToArray(),
                    DeviceTypes = rows.Select(r => r.Device).ToArray(),
                    Browsers = rows.Select(r => r.Browser).ToArray(),
                    Oses = rows.Select(r => r.Os).ToArray(),
                    Now = now,
                },
                cancellationToken: ct));
        }

        private static DemoData.Account Account(UserRow row) => new(row.Id, row.CreatedAt.AsUtc());

        private sealed record UserRow(Guid Id, string Role, string Status, string PasswordHash, DateTime CreatedAt);

        private sealed record KeyRow(Guid Id, string PublicId);

        private sealed record CountsRow(long Users, long Events, long Reports);
    }
}
