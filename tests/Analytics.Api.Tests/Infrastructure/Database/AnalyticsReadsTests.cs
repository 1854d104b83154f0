using Analytics.Api.Infrastructure.Database;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Analytics.Api.Tests.Infrastructure.Database;

/// <summary>
/// Analytics reads beyond the configured number wait for a free slot, in order, and can give up waiting; a read that
/// has started runs to the end whatever its caller does, also while the node drains, and stops once the node has stopped.
/// </summary>
public sealed class AnalyticsReadsTests
{
    private readonly Lifetime _lifetime = new();

    private AnalyticsReads Reads(int slots) => new(Options.Create(new DatabaseOptions { MaxConcurrentAnalyticsReads = slots }), _lifetime);

    [Fact]
    public async Task Reads_beyond_the_limit_start_only_when_an_earlier_one_ends()
    {
        using var reads = Reads(2);
        var release = new[] { new TaskCompletionSource<int>(), new TaskCompletionSource<int>(), new TaskCompletionSource<int>() };
        var started = new[] { new TaskCompletionSource(), new TaskCompletionSource(), new TaskCompletionSource() };
        var running = Enumerable.Range(0, 3).Select(i => reads.RunAsync(_ =>
        {
            started[i].SetResult();
            return release[i].Task;
        }, CancellationToken.None)).ToArray();

        started.Select(s => s.Task.IsCompleted).ShouldBe([true, true, false]);
        release[1].SetResult(1);
        (await running[1]).ShouldBe(1);
        await started[2].Task.WaitAsync(TimeSpan.FromSeconds(10));

        release[0].SetResult(0);
        release[2].SetResult(2);
        (await Task.WhenAll(running)).ShouldBe([0, 1, 2]);
    }

    [Fact]
    public async Task A_waiting_read_that_is_cancelled_never_runs_and_frees_nothing()
    {
        using var reads = Reads(1);
        var first = new TaskCompletionSource<int>();
        var running = reads.RunAsync(_ => first.Task, CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var ran = false;
        var waiting = reads.RunAsync(_ =>
        {
            ran = true;
            return Task.FromResult(2);
        }, cancel.Token);

        await cancel.CancelAsync();

        await Should.ThrowAsync<OperationCanceledException>(() => waiting);
        ran.ShouldBeFalse();
        first.SetResult(1);
        (await running).ShouldBe(1);
        (await reads.RunAsync(_ => Task.FromResult(3), CancellationToken.None)).ShouldBe(3);
    }

    [Fact]
    public async Task A_started_read_runs_to_its_end_when_its_caller_gives_up_and_stops_once_the_node_has_stopped()
    {
        using var reads = Reads(1);
        using var caller = new CancellationTokenSource();
        var readToken = new TaskCompletionSource<CancellationToken>();
        var finish = new TaskCompletionSource<int>();
        var running = reads.RunAsync(token =>
        {
            readToken.SetResult(token);
            return finish.Task;
        }, caller.Token);

        var token = await readToken.Task;
        await caller.CancelAsync();
        await _lifetime.Stopping.CancelAsync();
        token.IsCancellationRequested.ShouldBeFalse();
        finish.SetResult(7);
        (await running).ShouldBe(7);

        await _lifetime.Stopped.CancelAsync();
        token.IsCancellationRequested.ShouldBeTrue();
    }

    /// <summary>Stopping: the host is about to drain its requests; stopped: it has.</summary>
    private sealed class Lifetime : IHostApplicationLifetime
    {
        public CancellationTokenSource Stopping { get; } = new();

        public CancellationTokenSource Stopped { get; } = new();

        public CancellationToken ApplicationStarted => CancellationToken.None;

        public CancellationToken ApplicationStopping => Stopping.Token;

        public CancellationToken ApplicationStopped => Stopped.Token;

        public void StopApplication() => Stopping.Cancel();
    }
}
