using Shouldly;

namespace Analytics.Redis.Tests;

public class TimeoutAndCancellationTests(RedisFixture redis)
{
    private static readonly TimeSpan TestLimit = TimeSpan.FromSeconds(20);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_command_without_reply_times_out_and_later_replies_still_match()
    {
        // DEBUG SLEEP stalls the whole server, so this test gets its own.
        await using var server = await RedisServerProcess.StartAsync("--enable-debug-command", "yes");
        await using var client = await RedisClient.ConnectAsync(
            $"{server.EndPoint},syncTimeout=2000", Ct);
        var key = RedisFixture.UniqueKey("k");
        await client.SetAsync(key, "value", cancellationToken: Ct);

        // Replies after 3 s: beyond the 2 s sync timeout, but before the connection counts as dead (2 x 2 s).
        var blocked = client.ExecuteAsync("DEBUG", "SLEEP", 3).AsTask();
        var timeout = await Should.ThrowAsync<TimeoutException>(blocked.WaitAsync(TestLimit, Ct));
        timeout.Message.ShouldContain("DEBUG");

        // The late reply must be consumed by the timed-out command, not handed to the next caller.
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        limit.CancelAfter(TestLimit);
        while (client.GetStatistics().PendingCommands > 0)
        {
            await Task.Delay(20, limit.Token);
        }

        (await client.GetStringAsync(key, Ct).AsTask().WaitAsync(TestLimit, Ct)).ShouldBe("value");
        client.GetStatistics().Timeouts.ShouldBe(1);
        client.GetStatistics().Reconnects.ShouldBe(0);
        client.IsConnected.ShouldBeTrue();
    }

    [Fact]
    public async Task Cancelling_releases_the_caller_promptly_and_later_replies_still_match()
    {
        await using var server = await RedisServerProcess.StartAsync("--enable-debug-command", "yes");
        await using var client = await RedisClient.ConnectAsync(server.EndPoint, Ct);
        var key = RedisFixture.UniqueKey("k");
        await client.SetAsync(key, "value", cancellationToken: Ct);
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        var blocked = client.ExecuteAsync("DEBUG", ["SLEEP", 1], cancellation.Token).AsTask();
        await Should.ThrowAsync<OperationCanceledException>(blocked.WaitAsync(TestLimit, Ct));

        var afterwards = client.GetStringAsync(key, Ct).AsTask();
        (await afterwards.WaitAsync(TestLimit, Ct)).ShouldBe("value");
        client.GetStatistics().CommandsFailed.ShouldBe(0);
    }

    [Fact]
    public async Task An_already_cancelled_token_fails_without_sending()
    {
        await using var client = await redis.ConnectAsync();
        var sent = client.GetStatistics().CommandsSent;

        await Should.ThrowAsync<OperationCanceledException>(async () => await client.GetAsync("k", new CancellationToken(canceled: true)));

        client.GetStatistics().CommandsSent.ShouldBe(sent);
    }

    [Fact]
    public async Task Commands_time_out_while_the_server_is_paused_and_work_again_afterwards()
    {
        await using var admin = await redis.ConnectAsync();
        await using var client = await redis.ConnectAsync(o => o with { SyncTimeout = TimeSpan.FromMilliseconds(150) });
        var key = RedisFixture.UniqueKey("paused");

        // WRITE mode only holds back writes (and whatever a paused client sends after one), so tests sharing the
        // server are merely delayed.
        await admin.ExecuteAsync("CLIENT", "PAUSE", 600, "WRITE");
        var write = client.SetAsync(key, "x", cancellationToken: Ct).AsTask();
        await Should.ThrowAsync<TimeoutException>(write.WaitAsync(TestLimit, Ct));

        // The stalled connection may have been replaced meanwhile (A1); either way the client recovers.
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        limit.CancelAfter(TestLimit);
        while (true)
        {
            try
            {
                await client.SetAsync(key, "y", cancellationToken: Ct);
                break;
            }
            catch (Exception ex) when (ex is TimeoutException or RedisConnectionException)
            {
                await Task.Delay(50, limit.Token);
            }
        }

        (await client.GetStringAsync(key, Ct).AsTask().WaitAsync(TestLimit, Ct)).ShouldBe("y");
    }

    [Fact]
    public async Task A_slow_continuation_does_not_delay_other_replies()
    {
        await using var server = await RedisServerProcess.StartAsync();
        await using var admin = await RedisClient.ConnectAsync(server.EndPoint, Ct);
        await using var client = await RedisClient.ConnectAsync($"{server.EndPoint},syncTimeout=20000", Ct);
        using var release = new ManualResetEventSlim();

        // Holds both writes back, so that their replies arrive together once the pause ends.
        await admin.ExecuteAsync("CLIENT", "PAUSE", 300, "WRITE");
        var slow = client.SetAsync(RedisFixture.UniqueKey("slow"), "1", cancellationToken: Ct).AsTask();
        var fast = client.SetAsync(RedisFixture.UniqueKey("fast"), "2", cancellationToken: Ct).AsTask();
        var blockedContinuation = slow.ContinueWith(
            _ => release.Wait(TestLimit * 2, Ct), Ct, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

        try
        {
            (await fast.WaitAsync(TestLimit, Ct)).ShouldBeTrue();
            release.IsSet.ShouldBeFalse();
        }
        finally
        {
            release.Set();
        }

        await blockedContinuation.WaitAsync(TestLimit, Ct);
    }
}
