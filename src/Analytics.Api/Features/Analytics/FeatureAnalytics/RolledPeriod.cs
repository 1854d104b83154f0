namespace Analytics.Api.Features.Analytics.FeatureAnalytics;

/// <summary>
/// A period cut into what the feature-click rollups answer exactly and what must come from raw events: whole UTC
/// days, then whole hours, from the rollups; the partial hours at the edges and every hour that received clicks
/// since the rollups last ran (stale hours) from raw events. Times are UTC.
/// </summary>
internal sealed record RolledPeriod(DateOnly[] Days, DateTime[] Hours, DateTime[] RawFrom, DateTime[] RawTo)
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    /// <summary>Everything from raw events: the rollups have never run.</summary>
    public static RolledPeriod AllRaw(DateTime from, DateTime to) => new([], [], [from], [to]);

    public static RolledPeriod Split(DateTime from, DateTime to, IReadOnlySet<DateTime> stale)
    {
        var firstHour = ReportingPeriod.StartOfHour(from);
        if (firstHour < from)
        {
            firstHour += Hour;
        }

        var endHour = ReportingPeriod.StartOfHour(to);
        if (firstHour >= endHour)
        {
            return AllRaw(from, to);
        }

        var days = new List<DateOnly>();
        var hours = new List<DateTime>();
        var raw = new List<(DateTime From, DateTime To)>();
        void Raw(DateTime start, DateTime end)
        {
            if (raw.Count > 0 && raw[^1].To == start)
            {
                raw[^1] = (raw[^1].From, end);
            }
            else if (start < end)
            {
                raw.Add((start, end));
            }
        }

        Raw(from, firstHour);
        for (var hour = firstHour; hour < endHour;)
        {
            var dayEnd = hour.Date.AddDays(1);
            var wholeDay = hour == hour.Date && dayEnd <= endHour && !Enumerable.Range(0, 24).Any(h => stale.Contains(hour.AddHours(h)));
            if (wholeDay)
            {
                days.Add(DateOnly.FromDateTime(hour));
                hour = dayEnd;
                continue;
            }

            if (stale.Contains(hour))
            {
                Raw(hour, hour + Hour);
            }
            else
            {
                hours.Add(hour);
            }

            hour += Hour;
        }

        Raw(endHour, to);
        return new([.. days], [.. hours], [.. raw.Select(r => r.From)], [.. raw.Select(r => r.To)]);
    }
}
