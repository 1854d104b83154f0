using Shouldly;

namespace Analytics.Redis.Tests;

public class TimeoutAndCancellationTests(RedisFixture redis)
{
    private static readonly TimeSpan TestLimit = TimeSpan.FromSeconds(20);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_command_without_reply_times_out_and_later_replies_still_match()
    {
        await using var client = await redis.ConnectAsync(o => o with { SyncTimeout = TimeSpan.FromMilliseconds(200) });
        var key = RedisFixture.UniqueKey("k");
        await client.SetAsync(key, "value", cancellationToken: Ct);

        // Blocks the connection for 1 s, far beyond the 200 ms sync timeout.
        var blocked = client.ExecuteAsync("BLPOP", RedisFixture.UniqueKey("empty"), 1).AsTask();
        var timeout = await Should.ThrowAsync<TimeoutException>(blocked.WaitAsync(TestLimit, Ct));
        timeout.Message.ShouldContain("BLPOP");

        // BLPOP's late nil reply must be consumed by the timed-out command, not handed to the next caller.
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        limit.CancelAfter(TestLimit);
        while (client.GetStatistics().PendingCommands > 0)
        {
            await Task.Delay(20, limit.Token);
        }

        (await client.GetStringAsync(key, Ct).AsTask().WaitAsync(TestLimit, Ct)).ShouldBe("value");
        client.GetStatistics().Timeouts.ShouldBe(1);
        client.IsConnected.ShouldBeTrue();
    }

    [Fact]
    public async Task Cancelling_releases_the_caller_promptly_and_later_replies_still_match()
    {
        await using var client = await redis.ConnectAsync();
        var key = RedisFixture.UniqueKey("k");
        await client.SetAsync(key, "value", cancellationToken: Ct);
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        var blocked = client.ExecuteAsync("BLPOP", [RedisFixture.UniqueKey("empty"), 1], cancellation.Token).AsTask();
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
    public async Task Commands_time_out_while_the_server_is_paused()
    {
        await using var admin = await redis.ConnectAsync();
        await using var client = await redis.ConnectAsync(o => o with { SyncTimeout = TimeSpan.FromMilliseconds(150) });
        var key = RedisFixture.UniqueKey("paused");

        // WRITE mode only holds back writes (and whatever a paused client sends after one), so tests sharing the
        // server are merely delayed.
        await admin.ExecuteAsync("CLIENT", "PAUSE", 600, "WRITE");
        var write = client.SetAsync(key, "x", cancellationToken: Ct).AsTask();
        await Should.ThrowAsync<TimeoutException>(write.WaitAsync(TestLimit, Ct));

        await Task.Delay(700, Ct);
        (await client.GetStringAsync(key, Ct).AsTask().WaitAsync(TestLimit, Ct)).ShouldBe("x");
    }
}
