namespace Analytics.Api.Features.Analytics;

/// <summary>
/// The half-open UTC period <c>[From, To)</c> an analytics answer covers, by event time, and the UTC days it
/// touches (the points of its daily series).
/// </summary>
public readonly record struct ReportingPeriod(DateTimeOffset From, DateTimeOffset To)
{
    public const int MaxDays = 366;

    public bool IsOrdered => From <= To;

    public bool IsWithinLimit => To - From <= TimeSpan.FromDays(MaxDays);

    /// <summary>The earliest and latest instants a period may touch: far from the calendar's ends, so that no edge
    /// rounded out to a whole hour or day leaves it.</summary>
    public static readonly DateTimeOffset Earliest = new(1970, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <inheritdoc cref="Earliest"/>
    public static readonly DateTimeOffset Latest = new(3000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public bool IsInRange => From >= Earliest && To >= Earliest && From <= Latest && To <= Latest;

    /// <summary>
    /// The period asked for: a missing end is <paramref name="defaultTo"/>, a missing start is the end minus
    /// <paramref name="defaultSpan"/>. Defaults are whole minutes or days, so repeated reads share a cache entry.
    /// </summary>
    public static ReportingPeriod Resolve(DateTimeOffset? from, DateTimeOffset? to, DateTimeOffset defaultTo, TimeSpan defaultSpan)
    {
        var end = (to ?? defaultTo).ToUniversalTime();
        // Near the calendar's start the default span would underflow: such a period is refused (IsInRange) anyway.
        var start = from ?? (end.UtcTicks - DateTimeOffset.MinValue.UtcTicks >= defaultSpan.Ticks ? end - defaultSpan : DateTimeOffset.MinValue);
        return new ReportingPeriod(start.ToUniversalTime(), end);
    }

    /// <summary>The end of the minute in progress: "now" that stays the same for a minute.</summary>
    public static DateTimeOffset EndOfMinute(DateTimeOffset now) => StartOfMinute(now).AddMinutes(1);

    /// <summary>The start of the UTC hour holding <paramref name="at"/>.</summary>
    public static DateTimeOffset StartOfHour(DateTimeOffset at) => new(StartOfHour(at.UtcDateTime));

    /// <summary>The start of the UTC minute holding <paramref name="at"/>.</summary>
    public static DateTimeOffset StartOfMinute(DateTimeOffset at) => new(at.UtcTicks - (at.UtcTicks % TimeSpan.TicksPerMinute), TimeSpan.Zero);

    /// <summary>The start of the hour holding <paramref name="utc"/>, a UTC time.</summary>
    public static DateTime StartOfHour(DateTime utc) => new(utc.Ticks - (utc.Ticks % TimeSpan.TicksPerHour), DateTimeKind.Utc);

    /// <summary>The end of the UTC day in progress.</summary>
    public static DateTimeOffset EndOfDay(DateTimeOffset now) => new(now.UtcDateTime.Date.AddDays(1), TimeSpan.Zero);

    /// <summary>
    /// Every UTC day from the one holding <see cref="From"/> to the one holding the last instant before <see cref="To"/>;
    /// none for an empty period (<c>From == To</c>), which holds no instant.
    /// </summary>
    public IReadOnlyList<DateOnly> Days()
    {
        if (To <= From)
        {
            return [];
        }

        var first = DateOnly.FromDateTime(From.UtcDateTime);
        var last = DateOnly.FromDateTime(To.UtcDateTime.AddTicks(-1));
        return [.. Enumerable.Range(0, last.DayNumber - first.DayNumber + 1).Select(first.AddDays)];
    }

    /// <summary>A cache-key fragment naming the period exactly.</summary>
    public string Key => $"{From.UtcTicks}-{To.UtcTicks}";
}
