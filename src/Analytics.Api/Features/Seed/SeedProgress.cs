using System.Diagnostics;

namespace Analytics.Api.Features.Seed;

/// <summary>
/// What the seed tells the operator while it works: phases as lines and bulk counts as one updating line
/// (<c>\r users 420000/1000000 (42%)</c>), on stderr so that stdout keeps only the summary.
/// </summary>
public sealed class SeedProgress(TextWriter? writer)
{
    public static readonly SeedProgress Silent = new(null);

    private static readonly TimeSpan RedrawEvery = TimeSpan.FromMilliseconds(200);
    private readonly long _started = Stopwatch.GetTimestamp();
    private readonly Lock _drawing = new();
    private long _lastDrawn;
    private string? _label;
    private long _done;

    public void Phase(string text) => writer?.WriteLine($"[{Stopwatch.GetElapsedTime(_started).TotalSeconds,6:0.0} s] {text}");

    /// <summary>Safe to call from parallel writers (one line is drawn at a time).</summary>
    public void Advance(string label, long done, long total)
    {
        if (writer is null)
        {
            return;
        }

        lock (_drawing)
        {
            Draw(writer, label, done, total);
        }
    }

    private void Draw(TextWriter writer, string label, long done, long total)
    {
        // Parallel writers may report out of order: never draw a count below one drawn (nor after the finished line).
        if (label == _label && done <= _done)
        {
            return;
        }

        (_label, _done) = (label, done);
        var finished = done >= total;
        if (!finished && Stopwatch.GetElapsedTime(_lastDrawn) < RedrawEvery)
        {
            return;
        }

        _lastDrawn = Stopwatch.GetTimestamp();
        var percent = total == 0 ? 100 : done * 100 / total;
        writer.Write($"\r {label} {done}/{total} ({percent}%)");
        if (finished)
        {
            writer.WriteLine();
        }

        writer.Flush();
    }
}
