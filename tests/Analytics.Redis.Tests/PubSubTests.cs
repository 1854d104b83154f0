using System.Threading.Channels;
using Shouldly;

namespace Analytics.Redis.Tests;

public class PubSubTests(RedisFixture redis)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Channel_subscribers_receive_messages_in_order()
    {
        await using var client = await redis.ConnectAsync();
        var channel = RedisFixture.UniqueKey("ch");
        var received = Channel.CreateUnbounded<RedisMessage>();

        await using var subscription = await client.SubscribeAsync(channel, m => received.Writer.WriteAsync(m, Ct).AsTask(), Ct);
        client.SubscriberState.ShouldBe(RedisConnectionState.Connected);

        (await client.PublishAsync(channel, "one", Ct)).ShouldBe(1);
        (await client.PublishAsync(channel, new byte[] { 0, 255 }, Ct)).ShouldBe(1);

        var first = await received.Reader.ReadAsync(Ct).AsTask().WaitAsync(Wait, Ct);
        first.Channel.ShouldBe(channel);
        first.Pattern.ShouldBeNull();
        first.PayloadAsString().ShouldBe("one");
        (await received.Reader.ReadAsync(Ct).AsTask().WaitAsync(Wait, Ct)).Payload.ToArray().ShouldBe(new byte[] { 0, 255 });
    }

    [Fact]
    public async Task Pattern_subscribers_see_the_pattern_and_the_channel()
    {
        await using var client = await redis.ConnectAsync();
        var prefix = RedisFixture.UniqueKey("events");
        var received = Channel.CreateUnbounded<RedisMessage>();

        await using var subscription = await client.SubscribePatternAsync($"{prefix}:*", m => received.Writer.WriteAsync(m, Ct).AsTask(), Ct);
        await client.PublishAsync($"{prefix}:created", "payload", Ct);

        var message = await received.Reader.ReadAsync(Ct).AsTask().WaitAsync(Wait, Ct);
        message.Pattern.ShouldBe($"{prefix}:*");
        message.Channel.ShouldBe($"{prefix}:created");
        message.PayloadAsString().ShouldBe("payload");
    }

    [Fact]
    public async Task Disposing_one_of_two_handlers_keeps_the_other_and_the_last_unsubscribes()
    {
        await using var client = await redis.ConnectAsync();
        var channel = RedisFixture.UniqueKey("ch");
        var first = Channel.CreateUnbounded<string>();
        var second = Channel.CreateUnbounded<string>();

        var a = await client.SubscribeAsync(channel, m => first.Writer.WriteAsync(m.PayloadAsString(), Ct).AsTask(), Ct);
        var b = await client.SubscribeAsync(channel, m => second.Writer.WriteAsync(m.PayloadAsString(), Ct).AsTask(), Ct);
        await client.PublishAsync(channel, "both", Ct);
        (await first.Reader.ReadAsync(Ct).AsTask().WaitAsync(Wait, Ct)).ShouldBe("both");
        (await second.Reader.ReadAsync(Ct).AsTask().WaitAsync(Wait, Ct)).ShouldBe("both");

        await a.DisposeAsync();
        (await client.PublishAsync(channel, "only b", Ct)).ShouldBe(1);
        (await second.Reader.ReadAsync(Ct).AsTask().WaitAsync(Wait, Ct)).ShouldBe("only b");

        await b.DisposeAsync();
        (await client.PublishAsync(channel, "nobody", Ct)).ShouldBe(0);
        first.Reader.TryRead(out _).ShouldBeFalse();
    }

    [Fact]
    public async Task A_throwing_handler_is_reported_and_keeps_receiving()
    {
        await using var client = await redis.ConnectAsync();
        var channel = RedisFixture.UniqueKey("ch");
        var errors = Channel.CreateUnbounded<RedisErrorEventArgs>();
        client.ErrorOccurred += (_, e) => errors.Writer.TryWrite(e);
        var received = Channel.CreateUnbounded<string>();

        await using var subscription = await client.SubscribeAsync(channel, async m =>
        {
            await received.Writer.WriteAsync(m.PayloadAsString(), Ct);
            throw new InvalidOperationException("handler bug");
        }, Ct);
        await client.PublishAsync(channel, "1", Ct);
        await client.PublishAsync(channel, "2", Ct);

        (await received.Reader.ReadAsync(Ct).AsTask().WaitAsync(Wait, Ct)).ShouldBe("1");
        (await received.Reader.ReadAsync(Ct).AsTask().WaitAsync(Wait, Ct)).ShouldBe("2");
        (await errors.Reader.ReadAsync(Ct).AsTask().WaitAsync(Wait, Ct)).Exception.Message.ShouldBe("handler bug");
    }

    [Fact]
    public async Task A_blocked_handler_drops_the_oldest_messages_reports_them_once_and_keeps_receiving()
    {
        await using var client = await redis.ConnectAsync(o => o with { SubscriptionQueueCapacity = 10 });
        var channel = RedisFixture.UniqueKey("flood");
        var errors = Channel.CreateUnbounded<RedisErrorEventArgs>();
        client.ErrorOccurred += (_, e) => errors.Writer.TryWrite(e);
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var received = Channel.CreateUnbounded<string>();

        await using var subscription = await client.SubscribeAsync(channel, async m =>
        {
            await received.Writer.WriteAsync(m.PayloadAsString(), Ct);
            if (m.PayloadAsString() == "first")
            {
                entered.SetResult();
                await release.Task;
            }
        }, Ct);

        await client.PublishAsync(channel, "first", Ct);
        await entered.Task.WaitAsync(Wait, Ct);
        for (var i = 1; i <= 1000; i++)
        {
            await client.PublishAsync(channel, $"m{i}", Ct);
        }

        // The handler holds "first"; of the 1,000 queued behind it only the newest 10 fit.
        await WaitUntil(() => subscription.DroppedCount == 990);
        release.SetResult();
        var expected = (string[])["first", .. Enumerable.Range(991, 10).Select(i => $"m{i}")];
        foreach (var payload in expected)
        {
            (await received.Reader.ReadAsync(Ct).AsTask().WaitAsync(Wait, Ct)).ShouldBe(payload);
        }

        // Published once the queue has room again (sent while it was still full, it would push out m991).
        await client.PublishAsync(channel, "after", Ct);
        (await received.Reader.ReadAsync(Ct).AsTask().WaitAsync(Wait, Ct)).ShouldBe("after");
        subscription.DroppedCount.ShouldBe(990);

        var report = await errors.Reader.ReadAsync(Ct).AsTask().WaitAsync(Wait, Ct);
        report.Message.ShouldContain("990");
        errors.Reader.TryRead(out _).ShouldBeFalse("one burst is reported once");
    }

    [Fact]
    public async Task Subscribing_after_the_manager_stopped_throws_and_leaves_nothing_running()
    {
        var manager = new Internal.SubscriptionManager(_ => { }, () => null, queueCapacity: 10);
        manager.StopAll();

        await Should.ThrowAsync<ObjectDisposedException>(() => manager.AddAsync("ch", isPattern: false, _ => Task.CompletedTask, Ct));
    }

    [Fact]
    public async Task A_slow_handler_does_not_delay_other_subscriptions()
    {
        await using var client = await redis.ConnectAsync();
        var slowChannel = RedisFixture.UniqueKey("slow");
        var fastChannel = RedisFixture.UniqueKey("fast");
        var release = new TaskCompletionSource();
        var fast = Channel.CreateUnbounded<string>();

        await using var slow = await client.SubscribeAsync(slowChannel, _ => release.Task, Ct);
        await using var quick = await client.SubscribeAsync(fastChannel, m => fast.Writer.WriteAsync(m.PayloadAsString(), Ct).AsTask(), Ct);
        await client.PublishAsync(slowChannel, "blocks its handler", Ct);
        await client.PublishAsync(fastChannel, "still delivered", Ct);

        (await fast.Reader.ReadAsync(Ct).AsTask().WaitAsync(Wait, Ct)).ShouldBe("still delivered");
        release.SetResult();
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(Wait);
        while (!condition())
        {
            await Task.Delay(20, timeout.Token);
        }
    }
}
