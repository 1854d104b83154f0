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
        var receivedAt = new DateTimeOffset(2026, 11, 23, 1, 2, 3, TimeSpan.Zero).AddTicks(4567);
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync();
        await using (var create = new NpgsqlCommand("create temp table by_hand (like events including defaults); create temp table by_importer (like events including defaults)", connection))
        {
            await create.ExecuteNonQueryAsync();
        }

        await EventCopy.WriteAsync(connection, $"copy by_hand ({EventRow.CopyColumns}) from stdin (format binary)", [row, row with { Id = Guid.CreateVersion7() }], receivedAt);
        await using (var importer = await connection.BeginBinaryImportAsync($"copy by_importer ({EventRow.CopyColumns}) from stdin (format binary)"))
        {
            foreach (var r in new[] { row, row with { Id = Guid.CreateVersion7() } })
            {
                await WriteWithImporterAsync(importer, r, receivedAt);
            }

            await importer.CompleteAsync();
        }

        await using var compare = new NpgsqlCommand(
            $"""
            select (select count(*) from by_hand),
                   (select count(*) from (select {EventRow.CopyColumns} from by_hand where id = @Id except select {EventRow.CopyColumns} from by_importer) d),
                   (select count(*) from (select {EventRow.CopyColumns} from by_importer where id = @Id except select {EventRow.CopyColumns} from by_hand) d),
                   (select count(*) from by_hand where id = @Id)
            """, connection);
        compare.Parameters.AddWithValue("Id", row.Id);
        await using var reader = await compare.ExecuteReaderAsync();
        (await reader.ReadAsync()).ShouldBeTrue();
        (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3)).ShouldBe((2L, 0L, 0L, 1L));
    }

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
