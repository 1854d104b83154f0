using System.Globalization;
using Analytics.Api.Features.Events;
using Analytics.Api.Infrastructure.Database;
using Dapper;
using Npgsql;
using NpgsqlTypes;

namespace Analytics.Api.Features.Seed;

/// <summary>
/// Data at scale for benchmarks, written with binary COPY in chunks of one transaction each.
/// <para>
/// Users get deterministic e-mails (<c>gen-0000001@example.com</c>) and share ONE pre-computed Argon2id hash of the
/// demo password (hashing per user would take hours). A run resumes after the highest existing index, so
/// <c>--users N</c> means "N generated users in total".
/// </para>
/// <para>
/// Events are new UUIDv7s and are not written to <c>event_ids</c>: that table exists so that a client's retry is
/// stored once, and nobody retries generated events. What makes a re-run add nothing is a ledger instead: every
/// chunk commits, with its events, an <c>activity_log</c> row (kind <c>seed_generated</c>) holding its count, so
/// <c>--events N</c> also means "N generated events in total", even after an interrupted run.
/// </para>
/// </summary>
internal sealed class GeneratedData(NpgsqlDataSource db, SeedProgress progress)
{
    public const int MaxUsers = 9_999_999;
    public const long MaxEvents = 1_000_000_000;
    private const int UserChunk = 100_000;
    private const int EventChunk = 250_000;
    private const int ProgressEvery = 10_000;
    private static readonly int CopyStreams = Math.Clamp(Environment.ProcessorCount, 1, 4);
    private static readonly TimeSpan CopyTimeout = TimeSpan.FromMinutes(10);
    private const string LowEmail = "gen-0000000@example.com";
    private const string HighEmail = "gen-9999999@example.com";

    private const string LastUserSql = """
        select email::text from users
        where email between @Low and @High and email like 'gen-_______@example.com'
        order by email desc limit 1
        """;

    private const string UserIdsSql = """
        select id from users where email between @Low and @High and email like 'gen-_______@example.com'
        """;

    private const string CopyUsersSql = """
        copy users (id, email, password_hash, display_name, age, gender, role, status, created_at, updated_at, activated_at)
        from stdin (format binary)
        """;

    private const string EventsDoneSql = """
        select coalesce(sum((details->>'events')::bigint), 0) from activity_log
        where kind = 'seed_generated' and details->>'seed' = 'generated-events'
        """;

    private const string LedgerSql = """
        insert into activity_log (kind, occurred_at, details)
        values ('seed_generated', @Now, jsonb_build_object('seed', 'generated-events', 'events', @Count::bigint))
        """;

    private const string CopyEventsSql = """
        copy events (id, occurred_at, received_at, type, name, user_id, api_key_id, external_user_id, session_id,
                     url, device_type, browser, os, utm_source)
        from stdin (format binary)
        """;

    private static readonly string[] FirstNames = ["Ada", "Ben", "Chloe", "Dev", "Eva", "Finn", "Gia", "Hana", "Ivan", "Jon", "Kai", "Lea", "Mia", "Noah", "Omar", "Pia"];
    private static readonly string[] LastNames = ["Smith", "Garcia", "Kim", "Novak", "Okafor", "Rossi", "Silva", "Tanaka", "Weber", "Young"];
    // More features than the demo's eight, with a long tail.
    private static readonly string[] ExtraFeatures = ["bulk_edit", "api_tokens", "saved_views", "keyboard_shortcuts"];
    private static readonly string?[] UtmSources = [null, null, null, null, "google", "newsletter", "twitter", "partner"];

    // Share of traffic per UTC hour: quiet nights, busy afternoons.
    private static readonly int[] HourWeights = [2, 1, 1, 1, 1, 2, 3, 5, 7, 8, 9, 9, 9, 9, 9, 9, 8, 8, 7, 6, 5, 4, 3, 3];

    /// <summary>Tops the generated users up to <paramref name="target"/>; returns how many it added.</summary>
    public async Task<long> UsersAsync(int target, string passwordHash, DateTimeOffset now, int days, CancellationToken ct)
    {
        int existing;
        await using (var connection = await db.OpenConnectionAsync(ct))
        {
            var last = await connection.ExecuteScalarAsync<string?>(new CommandDefinition(LastUserSql, new { Low = LowEmail, High = HighEmail }, cancellationToken: ct));
            existing = last is null ? 0 : int.Parse(last.AsSpan(4, 7), CultureInfo.InvariantCulture);
        }

        if (existing >= target)
        {
            progress.Phase($"users: {existing} generated users exist, none to add");
            return 0;
        }

        var random = new Random(existing + 1);
        var start = now.AddDays(-days);
        var span = (now - start).Ticks;
        for (var from = existing + 1; from <= target; from += UserChunk)
        {
            var to = Math.Min(target, from + UserChunk - 1);
            await using var connection = await db.OpenConnectionAsync(ct);
            await using var transaction = await connection.BeginTransactionAsync(ct);
            await using (var copy = await connection.BeginBinaryImportAsync(CopyUsersSql, ct))
            {
                copy.Timeout = CopyTimeout;
                for (var i = from; i <= to; i++)
                {
                    var createdAt = start.AddTicks((long)(random.NextDouble() * span)).UtcDateTime;
                    await copy.StartRowAsync(ct);
                    await copy.WriteAsync(Guid.CreateVersion7(createdAt), NpgsqlDbType.Uuid, ct);
                    await copy.WriteAsync(Email(i), NpgsqlDbType.Citext, ct);
                    await copy.WriteAsync(passwordHash, NpgsqlDbType.Text, ct);
                    await copy.WriteAsync($"{FirstNames[random.Next(FirstNames.Length)]} {LastNames[random.Next(LastNames.Length)]}", NpgsqlDbType.Text, ct);
                    await copy.WriteNullableAsync(Age(random), NpgsqlDbType.Smallint, ct);
                    await copy.WriteNullableAsync(Gender(random), NpgsqlDbType.Text, ct);
                    await copy.WriteAsync("user", NpgsqlDbType.Text, ct);
                    await copy.WriteAsync("active", NpgsqlDbType.Text, ct);
                    await copy.WriteAsync(createdAt, NpgsqlDbType.TimestampTz, ct);
                    await copy.WriteAsync(createdAt, NpgsqlDbType.TimestampTz, ct);
                    await copy.WriteAsync(createdAt, NpgsqlDbType.TimestampTz, ct);
                    if (i % 10_000 == 0)
                    {
                        progress.Advance("users", i - existing, target - existing);
                    }
                }

                await copy.CompleteAsync(ct);
            }

            await transaction.CommitAsync(ct);
            progress.Advance("users", to - existing, target - existing);
        }

        return target - existing;
    }

    /// <summary>
    /// Tops the generated events up to <paramref name="target"/>, spread over the last <paramref name="days"/> days:
    /// most from <paramref name="userIds"/> (so feature analytics can filter by age and gender), the rest sent with the
    /// API key on behalf of external users. Returns how many it added.
    /// </summary>
    public async Task<long> EventsAsync(long target, IReadOnlyList<Guid> userIds, Guid apiKeyId, DateTimeOffset now, int days, CancellationToken ct)
    {
        long existing;
        var start = now.AddDays(-days);
        await using (var connection = await db.OpenConnectionAsync(ct))
        {
            existing = await connection.ExecuteScalarAsync<long>(new CommandDefinition(EventsDoneSql, cancellationToken: ct));
            if (existing >= target)
            {
                progress.Phase($"events: {existing} generated events exist, none to add");
                return 0;
            }

            await EventPartitions.EnsureAsync(connection, now, ct);
        }

        var firstDay = new DateTimeOffset(start.UtcDateTime.Date, TimeSpan.Zero);
        var dayCount = (int)(now.UtcDateTime.Date - firstDay.UtcDateTime).TotalDays + 1;
        var hourTotal = HourWeights.Sum();
        var wanted = target - existing;
        long written = 0;
        // Small runs get chunks small enough for every stream to have some.
        var chunkSize = (int)Math.Clamp(wanted / (CopyStreams * 4), ProgressEvery, EventChunk);
        var chunks = new List<(long From, int Count)>();
        for (var from = existing; from < target; from += chunkSize)
        {
            chunks.Add((from, (int)Math.Min(chunkSize, target - from)));
        }

        // One COPY keeps one PostgreSQL backend busy (a core) while the generator needs a fifth of another: chunks go
        // to CopyStreams connections at once. Each chunk is its own transaction with its ledger row, so an
        // interrupted run still resumes by count.
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = CopyStreams, CancellationToken = ct };
        await Parallel.ForEachAsync(chunks, parallel, async (chunk, token) =>
        {
            var (from, count) = chunk;
            var random = new Random(unchecked((int)(from * 7919 + 17)));
            await using var connection = await db.OpenConnectionAsync(token);
            await using var transaction = await connection.BeginTransactionAsync(token);
            await using (var copy = await connection.BeginBinaryImportAsync(CopyEventsSql, token))
            {
                copy.Timeout = CopyTimeout;
                for (var i = 0; i < count; i++)
                {
                    // Days in order across the run (hours at random within a day): the inserts stay near each other in
                    // the indexes. In random order over 30 days, 10M events took 9 minutes instead of about 3.
                    var day = (int)((from + i - existing) * dayCount / wanted);
                    var at = EventTime(random, firstDay.AddDays(day), hourTotal, start, now);
                    var fromUser = userIds.Count > 0 && random.Next(10) < 6;
                    var (type, name) = Kind(random, fromUser);
                    var (device, browser, os) = DemoData.Devices[random.Next(DemoData.Devices.Length)];
                    await copy.StartRowAsync(token);
                    await copy.WriteAsync(Guid.CreateVersion7(at), NpgsqlDbType.Uuid, token);
                    await copy.WriteAsync(at, NpgsqlDbType.TimestampTz, token);
                    await copy.WriteAsync(at, NpgsqlDbType.TimestampTz, token);
                    await copy.WriteAsync(type, NpgsqlDbType.Text, token);
                    await copy.WriteNullableAsync(name, NpgsqlDbType.Text, token);
                    if (fromUser)
                    {
                        await copy.WriteAsync(userIds[random.Next(userIds.Count)], NpgsqlDbType.Uuid, token);
                        await copy.WriteNullAsync(token);
                        await copy.WriteNullAsync(token);
                    }
                    else
                    {
                        await copy.WriteNullAsync(token);
                        await copy.WriteAsync(apiKeyId, NpgsqlDbType.Uuid, token);
                        await copy.WriteAsync($"ext-{random.Next(1, 50_000)}", NpgsqlDbType.Text, token);
                    }

                    await copy.WriteAsync($"s-{random.Next(1, 1_000_000)}", NpgsqlDbType.Text, token);
                    await copy.WriteAsync($"https://app.example.com{DemoData.Pages[random.Next(DemoData.Pages.Length)]}", NpgsqlDbType.Text, token);
                    await copy.WriteAsync(device, NpgsqlDbType.Text, token);
                    await copy.WriteAsync(browser, NpgsqlDbType.Text, token);
                    await copy.WriteAsync(os, NpgsqlDbType.Text, token);
                    await copy.WriteNullableAsync(UtmSources[random.Next(UtmSources.Length)], NpgsqlDbType.Text, token);
                    if (i % ProgressEvery == ProgressEvery - 1)
                    {
                        progress.Advance("events", Interlocked.Add(ref written, ProgressEvery), wanted);
                    }
                }

                await copy.CompleteAsync(token);
            }

            await connection.ExecuteAsync(new CommandDefinition(LedgerSql, new { Now = now, Count = count }, transaction, cancellationToken: token));
            await transaction.CommitAsync(token);
            progress.Advance("events", Interlocked.Add(ref written, count % ProgressEvery), wanted);
        });

        return target - existing;
    }

    public async Task<IReadOnlyList<Guid>> UserIdsAsync(CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        return [.. await connection.QueryAsync<Guid>(new CommandDefinition(UserIdsSql, new { Low = LowEmail, High = HighEmail }, cancellationToken: ct))];
    }

    public static string Email(int index) => string.Create(CultureInfo.InvariantCulture, $"gen-{index:D7}@example.com");

    private static DateTime EventTime(Random random, DateTimeOffset day, int hourTotal, DateTimeOffset start, DateTimeOffset now)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var ticket = random.Next(hourTotal);
            var hour = 0;
            while ((ticket -= HourWeights[hour]) >= 0)
            {
                hour++;
            }

            var at = day.AddHours(hour).AddTicks((long)(random.NextDouble() * TimeSpan.TicksPerHour));
            if (at >= start && at < now)
            {
                return at.UtcDateTime;
            }
        }

        // The first and last days are partly outside [start, now): any time in the part that is inside.
        var from = day < start ? start : day;
        var to = day.AddDays(1) > now ? now : day.AddDays(1);
        return from.AddTicks((long)(random.NextDouble() * (to - from).Ticks)).UtcDateTime;
    }

    // Users: page views, clicks, feature clicks, custom events and sign-ins; API-key traffic has no feature clicks of known users.
    private static (string Type, string? Name) Kind(Random random, bool fromUser)
    {
        var roll = random.Next(100);
        return (fromUser, roll) switch
        {
            (_, < 45) => ("page_view", null),
            (_, < 65) => ("click", DemoData.ClickNames[random.Next(DemoData.ClickNames.Length)]),
            (true, < 92) or (false, < 85) => ("feature_click", Feature(random)),
            (true, < 97) or (false, _) => ("custom", DemoData.CustomNames[random.Next(DemoData.CustomNames.Length)]),
            _ => ("login", null),
        };
    }

    private static string Feature(Random random)
    {
        var i = (int)Math.Floor(Math.Pow(random.NextDouble(), 2) * (DemoData.Features.Count + ExtraFeatures.Length));
        return i < DemoData.Features.Count ? DemoData.Features[i].Name : ExtraFeatures[i - DemoData.Features.Count];
    }

    private static short? Age(Random random) => random.Next(100) switch
    {
        < 12 => (short)random.Next(13, 18),
        < 70 => (short)random.Next(18, 41),
        < 97 => (short)random.Next(41, 81),
        _ => null,
    };

    private static string? Gender(Random random) => random.Next(100) switch
    {
        < 48 => "male",
        < 95 => "female",
        < 99 => "other",
        _ => null,
    };
}
