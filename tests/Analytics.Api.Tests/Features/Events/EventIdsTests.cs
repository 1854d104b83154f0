using Analytics.Api.Features.Events.TrackEvent;

namespace Analytics.Api.Tests.Features.Events;

/// <summary>Server-made event ids are RFC 9562 version 7 UUIDs of their time, all different.</summary>
public sealed class EventIdsTests
{
    [Fact]
    public void Ids_carry_version_7_the_variant_and_their_millisecond_and_are_unique()
    {
        var at = new DateTimeOffset(2026, 11, 23, 2, 15, 0, 123, TimeSpan.Zero);
        var ids = Enumerable.Range(0, 100_000).Select(_ => EventIds.NewVersion7(at)).ToList();

        ids.Distinct().Count().ShouldBe(ids.Count);
        foreach (var id in ids.Take(1000))
        {
            id.Version.ShouldBe(7);
            (id.Variant & 0b1100).ShouldBe(0b1000);
            var bytes = id.ToByteArray(bigEndian: true);
            var milliseconds = ((long)bytes[0] << 40) | ((long)bytes[1] << 32) | ((long)bytes[2] << 24) | ((long)bytes[3] << 16) | ((long)bytes[4] << 8) | bytes[5];
            milliseconds.ShouldBe(at.ToUnixTimeMilliseconds());
        }

        // The same layout as the runtime's own version 7 ids: they sort by time alike.
        var later = EventIds.NewVersion7(at.AddMilliseconds(1));
        later.CompareTo(ids[0]).ShouldBePositive();
        Guid.CreateVersion7(at).ToString()[..13].ShouldBe(ids[0].ToString()[..13]);
        Should.Throw<ArgumentOutOfRangeException>(() => EventIds.NewVersion7(DateTimeOffset.UnixEpoch.AddMilliseconds(-1)));
    }

    [Fact]
    public void Threads_draw_different_random_bits()
    {
        var at = DateTimeOffset.UtcNow;
        var ids = new System.Collections.Concurrent.ConcurrentBag<Guid>();
        Parallel.For(0, 8, _ =>
        {
            for (var i = 0; i < 5_000; i++)
            {
                ids.Add(EventIds.NewVersion7(at));
            }
        });

        ids.Distinct().Count().ShouldBe(40_000);
    }
}
