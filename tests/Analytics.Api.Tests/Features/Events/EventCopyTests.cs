using System.Net;
using Analytics.Api.Features.Events;
using Analytics.Api.Features.Events.TrackEvent;
using Analytics.Api.Tests.Infrastructure;
using Npgsql;
using NpgsqlTypes;

namespace Analytics.Api.Tests.Features.Events;

/// <summary>
/// The hand-encoded binary COPY stores exactly what Npgsql's binary importer stores for the same rows: the same
/// rows go into two tables shaped like <c>events</c>, one each way, and PostgreSQL compares them.
/// </summary>
public sealed class EventCopyTests(TestDatabase database)
{
    private static readonly Guid Owner = Guid.NewGuid();

    public static TheoryData<string> Cases => ["nulls", "full", "ipv6", "mapped", "old", "ticks"];

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Rows_are_stored_as_Npgsqls_importer_stores_them(string name)
    {
        var row = Rows[name];
        (await StoreBothWaysAsync([row, row with { Id = Guid.CreateVersion7(), Name = "second" }])).ShouldBe((2L, 0L, 0L));
    }

    [Fact]
    public async Task A_group_larger_than_a_chunk_is_stored_whole_and_alike()
    {
        var rows = Enumerable.Range(0, 400)
            .Select(i => Rows["full"] with { Id = Guid.CreateVersion7(), Url = "https://example.com/" + new string((char)('a' + (i % 26)), 2000) + "é" })
            .ToList();

        (await StoreBothWaysAsync(rows)).ShouldBe((400L, 0L, 0L));
    }

    [Fact]
    public async Task A_row_that_fails_to_encode_after_chunks_were_sent_stores_none_of_the_group()
    {
        await using var connection = await OpenWithTablesAsync();
        var rows = Enumerable.Range(0, 400).Select(i => Rows["full"] with { Id = Guid.CreateVersion7(), Url = new string('u', 2000) }).ToList();
        // Half a surrogate pair is not UTF-8 (the rules keep it out; here it stands for any failure mid-group).
        rows[300] = rows[300] with { Name = "broken \ud800 name" };

        await Should.ThrowAsync<ArgumentException>(EventCopy.WriteAsync(connection, CopyInto("by_hand"), rows, DateTimeOffset.UtcNow));

        // The COPY was cancelled, not ended: none of the ~290 rows already sent was stored, and the connection goes on.
        await using var count = new NpgsqlCommand("select count(*) from by_hand", connection);
        (await count.ExecuteScalarAsync()).ShouldBe(0L);
    }

    /// <summary>
    /// Stores <paramref name="rows"/> by hand and by the importer into two tables; the rows stored by hand, and those
    /// of each table missing from the other.
    /// </summary>
    private async Task<(long Stored, long OnlyByHand, long OnlyByImporter)> StoreBothWaysAsync(IReadOnlyCollection<EventRow> rows)
    {
        var receivedAt = new DateTimeOffset(2026, 11, 23, 1, 2, 3, TimeSpan.Zero).AddTicks(4567);
        await using var connection = await OpenWithTablesAsync();
        await EventCopy.WriteAsync(connection, CopyInto("by_hand"), rows, receivedAt);
        await using (var importer = await connection.BeginBinaryImportAsync(CopyInto("by_importer")))
        {
            foreach (var row in rows)
            {
                await WriteWithImporterAsync(importer, row, receivedAt);
            }

            await importer.CompleteAsync();
        }

        await using var compare = new NpgsqlCommand(
            $"""
            select (select count(*) from by_hand),
                   (select count(*) from (select {EventRow.CopyColumns} from by_hand except all select {EventRow.CopyColumns} from by_importer) d),
                   (select count(*) from (select {EventRow.CopyColumns} from by_importer except all select {EventRow.CopyColumns} from by_hand) d)
            """, connection);
        await using var reader = await compare.ExecuteReaderAsync();
        (await reader.ReadAsync()).ShouldBeTrue();
        return (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
    }

    private async Task<NpgsqlConnection> OpenWithTablesAsync()
    {
        var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync();
        await using var create = new NpgsqlCommand("create temp table by_hand (like events including defaults); create temp table by_importer (like events including defaults)", connection);
        await create.ExecuteNonQueryAsync();
        return connection;
    }

    private static string CopyInto(string table) => $"copy {table} ({EventRow.CopyColumns}) from stdin (format binary)";

    private static readonly Dictionary<string, EventRow> Rows = new()
    {
        ["nulls"] = new(Guid.CreateVersion7(), false, DateTimeOffset.UtcNow, EventType.Custom, null, null, null, Owner, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null),
        ["full"] = new(
            Guid.CreateVersion7(), true, new DateTimeOffset(2026, 11, 22, 23, 59, 59, TimeSpan.Zero).AddTicks(1234567), EventType.FeatureClick, "Export — CSV 📄",
            Guid.NewGuid(), Guid.NewGuid(), Owner, "user-42 ünïcode", "session\twith tab", "https://example.com/a?b=c&d=é", "https://ref.example/",
            """{"plan": "pro", "n": 1.5e3, "nested": {"emoji": "🎉", "quote": "\"", "nul": "\\u0001"}}""", IPAddress.Parse("203.0.113.9"),
            "Mozilla/5.0 (X11; Linux x86_64) 日本語", "desktop", "Firefox", "Linux", "news", "email", "spring", "term", "content", null),
        ["ipv6"] = new(Guid.CreateVersion7(), false, DateTimeOffset.UtcNow, EventType.PageView, null, null, null, Owner, null, null, null, null, "{}", IPAddress.Parse("2001:db8::1"), null, null, null, null, null, null, null, null, null, null),
        ["mapped"] = new(Guid.CreateVersion7(), false, DateTimeOffset.UtcNow, EventType.Click, "", null, null, Owner, "", null, null, null, "[]", IPAddress.Parse("::ffff:192.0.2.1"), "", null, null, null, null, null, null, null, null, null),
        ["old"] = new(Guid.CreateVersion7(), false, new DateTimeOffset(1999, 12, 31, 23, 59, 59, TimeSpan.Zero).AddTicks(9999995), EventType.Login, "before 2000", null, null, Owner, null, null, null, null, null, IPAddress.Loopback, null, null, null, null, null, null, null, null, null, null),
        ["ticks"] = new(Guid.CreateVersion7(), false, new DateTimeOffset(1970, 1, 1, 0, 0, 0, TimeSpan.Zero).AddTicks(3), EventType.Custom, "epoch", null, null, Owner, null, null, null, null, null, IPAddress.IPv6Loopback, null, null, null, null, null, null, null, null, null, null),
    };

    /// <summary>The importer calls the writer made before it encoded rows itself (the reference).</summary>
    private static async Task WriteWithImporterAsync(NpgsqlBinaryImporter copy, EventRow row, DateTimeOffset receivedAt)
    {
        await copy.StartRowAsync();
        await copy.WriteAsync(row.Id, NpgsqlDbType.Uuid);
        await copy.WriteAsync(row.OccurredAt, NpgsqlDbType.TimestampTz);
        await copy.WriteAsync(receivedAt, NpgsqlDbType.TimestampTz);
        await copy.WriteAsync(row.StoredType, NpgsqlDbType.Text);
        foreach (var (value, type) in new (object?, NpgsqlDbType)[]
        {
            (row.Name, NpgsqlDbType.Text), (row.UserId, NpgsqlDbType.Uuid), (row.ApiKeyId, NpgsqlDbType.Uuid), (row.ExternalUserId, NpgsqlDbType.Text),
            (row.SessionId, NpgsqlDbType.Text), (row.Url, NpgsqlDbType.Text), (row.Referrer, NpgsqlDbType.Text), (row.PropertiesJson, NpgsqlDbType.Jsonb),
            (row.Ip, NpgsqlDbType.Inet), (row.UserAgent, NpgsqlDbType.Text), (row.DeviceType, NpgsqlDbType.Text), (row.Browser, NpgsqlDbType.Text),
            (row.Os, NpgsqlDbType.Text), (row.UtmSource, NpgsqlDbType.Text), (row.UtmMedium, NpgsqlDbType.Text), (row.UtmCampaign, NpgsqlDbType.Text),
            (row.UtmTerm, NpgsqlDbType.Text), (row.UtmContent, NpgsqlDbType.Text),
        })
        {
            if (value is null)
            {
                await copy.WriteNullAsync();
            }
            else
            {
                await copy.WriteAsync(value, type);
            }
        }
    }
}
