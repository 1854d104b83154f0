using Analytics.Api.Features.Seed;

namespace Analytics.Api.Tests.Features.Seed;

public sealed class SeedProgressTests
{
    [Fact]
    public void Counts_reported_out_of_order_by_parallel_writers_never_redraw_after_the_finished_line()
    {
        var output = new StringWriter();
        var progress = new SeedProgress(output);

        progress.Advance("events", 20, 30);
        progress.Advance("events", 30, 30);
        progress.Advance("events", 10, 30);
        progress.Advance("events", 30, 30);
        progress.Phase("rollups");

        var text = output.ToString();
        text.ShouldNotContain("10/30");
        text.Split("(100%)").Length.ShouldBe(2, text);
        var lines = text.Split(Environment.NewLine);
        lines[^2].ShouldStartWith("[");
        lines[^2].ShouldEndWith("rollups");
    }
}
