using System.Collections.Concurrent;
using System.Threading.Channels;
using Shouldly;

namespace Analytics.Redis.Tests;

/// <summary>Tests that kill servers; each uses its own private redis-server.</summary>
public class ReconnectTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Subscribing_while_the_server_hangs_does_not_fail_and_receives_once_it_answers()
    {
        await using var server = await RedisServerProcess.StartAsync();
        await using var admin = await Connect(server.EndPoint);
        await using var client = await Connect($"{server.EndPoint},syncTimeout=200");
        var channel = RedisFixture.UniqueKey("hung");
        var received = Channel.CreateUnbounded<string>();
        await client.PingAsync(Ct);
        await admin.ExecuteAsync("CLIENT", "PAUSE", 1500, "ALL");

        // A service starting up subscribes now: the SUBSCRIBE times out, and must not fail the start.
        await using var subscription = await client.SubscribeAsync(channel, m => received.Writer.WriteAsync(m.PayloadAsString(), Ct).AsTask(), Ct);

        using var patience = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        patience.CancelAfter(Wait);
        while (!received.Reader.TryRead(out _))
        {
            try
            {
                await admin.PublishAsync(channel, "after", Ct);
            }
            catch (Exception ex) when (ex is TimeoutException or RedisConnectionException)
            {
                // Still paused.
            }

            await Task.Delay(200, patience.Token);
        }
    }

    [Fact]
    public async Task Server_restart_mid_load_fails_fast_reconnects_and_resubscribes()
    {
        await using var server = await RedisServerProcess.StartAsync();
        await using var client = await Connect($"{server.EndPoint},syncTimeout=3000");
        var states = new ConcurrentQueue<(RedisConnectionRole, RedisConnectionState)>();
        client.StateChanged += (_, e) => states.Enqueue((e.Role, e.State));
        var channel = RedisFixture.UniqueKey("ch");
        var received = Channel.CreateUnbounded<string>();
        await using var subscription = await client.SubscribeAsync(channel, m => received.Writer.WriteAsync(m.PayloadAsString(), Ct).AsTask(), Ct);

        var outcomes = new ConcurrentDictionary<string, int>();
        using var stopLoad = new CancellationTokenSource();
        var load = Enumerable.Range(0, 20).Select(worker => Task.Run(async () =>
        {
            for (var i = 0; !stopLoad.IsCancellationRequested; i++)
            {
                var key = $"{channel}:{worker}:{i}";
                try
                {
                    await client.SetAsync(key, key, cancellationToken: Ct);
                    (await client.GetStringAsync(key, Ct)).ShouldBe(key);
                    outcomes.AddOrUpdate("ok", 1, (_, n) => n + 1);
                }
                catch (RedisConnectionException)
                {
                    outcomes.AddOrUpdate("connection", 1, (_, n) => n + 1);
                    await Task.Delay(5, Ct);
                }
            }
        }, Ct)).ToArray();

        await WaitUntil(() => outcomes.GetValueOrDefault("ok") > 200);
        await server.KillAsync();
        await WaitUntil(() => outcomes.GetValueOrDefault("connection") > 50);
        client.IsConnected.ShouldBeFalse();
        client.State.ShouldBe(RedisConnectionState.Disconnected);

        await server.StartAsync();
        await WaitUntil(() => client.IsConnected);
        var okAfterRestart = outcomes.GetValueOrDefault("ok");
        await WaitUntil(() => outcomes.GetValueOrDefault("ok") > okAfterRestart + 200);
        await stopLoad.CancelAsync();
        await Task.WhenAll(load).WaitAsync(Wait, Ct);

        // The subscriber connection reconnects on its own schedule; publish until it is back.
        await WaitUntil(async () => await client.PublishAsync(channel, "after restart", Ct) == 1);
        (await received.Reader.ReadAsync(Ct).AsTask().WaitAsync(Wait, Ct)).ShouldBe("after restart");

        client.GetStatistics().Reconnects.ShouldBeGreaterThanOrEqualTo(2);
        states.ShouldContain((RedisConnectionRole.Interactive, RedisConnectionState.Disconnected));
        states.ShouldContain((RedisConnectionRole.Subscriber, RedisConnectionState.Connected));
    }

    [Fact]
    public async Task Auth_and_select_are_replayed_after_a_restart()
    {
        await using var server = await RedisServerProcess.StartAsync("--requirepass", "s3cret");
        await using var client = await Connect($"{server.EndPoint},user=default,password=s3cret,defaultDatabase=2");
        await client.SetAsync("k", "before", cancellationToken: Ct);
        (await client.ExecuteAsync("CLIENT", "INFO")).AsString()!.ShouldContain("db=2");

        await server.KillAsync();
        await WaitUntil(() => !client.IsConnected);
        await server.StartAsync();
        await WaitUntil(() => client.IsConnected);

        await client.SetAsync("k", "after", cancellationToken: Ct);
        (await client.GetStringAsync("k", Ct)).ShouldBe("after");
        (await client.ExecuteAsync("CLIENT", "INFO")).AsString()!.ShouldContain("db=2");
        await using var otherDatabase = await Connect($"{server.EndPoint},password=s3cret");
        (await otherDatabase.ExistsAsync("k", Ct)).ShouldBeFalse();
    }

    [Fact]
    public async Task A_wrong_password_fails_the_connect_with_the_server_message()
    {
        await using var server = await RedisServerProcess.StartAsync("--requirepass", "s3cret");

        var error = await Should.ThrowAsync<RedisConnectionException>(() => Connect($"{server.EndPoint},password=wrong"));

        error.InnerException.ShouldBeOfType<RedisServerException>().Message.ShouldContain("WRONGPASS");
    }

    [Fact]
    public async Task With_abortConnect_false_a_client_created_while_the_server_is_down_connects_later()
    {
        await using var server = await RedisServerProcess.StartAsync();
        await server.KillAsync();

        await using var client = await Connect($"{server.EndPoint},abortConnect=false,connectTimeout=500");
        client.State.ShouldBe(RedisConnectionState.Disconnected);
        (await Should.ThrowAsync<RedisConnectionException>(async () => await client.PingAsync(Ct))).MayHaveExecuted.ShouldBeFalse();

        await server.StartAsync();
        await WaitUntil(() => client.IsConnected);
        (await client.IncrementAsync("n", cancellationToken: Ct)).ShouldBe(1);
    }

    [Fact]
    public async Task With_abortConnect_true_connecting_to_a_dead_server_throws()
    {
        await using var server = await RedisServerProcess.StartAsync();
        await server.KillAsync();

        var error = await Should.ThrowAsync<RedisConnectionException>(() => Connect($"{server.EndPoint},connectTimeout=500"));

        error.Message.ShouldContain(server.EndPoint);
    }

    [Fact]
    public async Task A_server_that_accepts_the_socket_but_refuses_the_client_fails_the_connect()
    {
        await using var server = await RedisServerProcess.StartAsync("--maxclients", "1");

        // The start-up probe's socket may still hold the only slot for a moment.
        RedisClient? holder = null;
        for (var attempt = 0; holder is null; attempt++)
        {
            try
            {
                holder = await Connect(server.EndPoint);
            }
            catch (RedisConnectionException) when (attempt < 40)
            {
                await Task.Delay(50, Ct);
            }
        }

        await using var first = holder;

        var error = await Should.ThrowAsync<RedisConnectionException>(() => Connect($"{server.EndPoint},connectTimeout=2000"));

        error.Message.ShouldContain(server.EndPoint);
        (await first.PingAsync(Ct)).ShouldBeGreaterThan(TimeSpan.Zero);
    }

    [Fact]
    public async Task The_first_reachable_endpoint_is_used()
    {
        await using var dead = await RedisServerProcess.StartAsync();
        await dead.KillAsync();
        await using var live = await RedisServerProcess.StartAsync();

        await using var client = await Connect($"{dead.EndPoint},{live.EndPoint}");

        client.ConnectedEndPoint.ShouldBe(new RedisEndPoint("127.0.0.1", live.Port));
        (await client.PingAsync(Ct)).ShouldBeGreaterThan(TimeSpan.Zero);
    }

    [Fact]
    public async Task Commands_pending_when_the_connection_drops_fail_with_RedisConnectionException()
    {
        await using var server = await RedisServerProcess.StartAsync();
        await using var admin = await Connect(server.EndPoint);
        await using var client = await Connect($"{server.EndPoint},syncTimeout=30000");

        await admin.ExecuteAsync("CLIENT", "PAUSE", 30_000, "ALL");
        var blocked = client.PingAsync(Ct).AsTask();
        await WaitUntil(() => client.GetStatistics().PendingCommands == 1);
        await server.KillAsync();

        (await Should.ThrowAsync<RedisConnectionException>(blocked.WaitAsync(Wait, Ct))).MayHaveExecuted.ShouldBeTrue();
    }

    [Fact]
    public async Task A_server_that_stops_answering_is_disconnected_and_the_client_recovers_after_it_resumes()
    {
        await using var server = await RedisServerProcess.StartAsync();
        await using var admin = await Connect(server.EndPoint);
        await using var client = await Connect($"{server.EndPoint},syncTimeout=200");
        var lost = new ConcurrentQueue<Exception?>();
        client.StateChanged += (_, e) =>
        {
            if (e is { Role: RedisConnectionRole.Interactive, State: RedisConnectionState.Disconnected })
            {
                lost.Enqueue(e.Error);
            }
        };

        // Far longer than 2 x syncTimeout: from the client's side the server hangs (as with a half-open connection).
        await admin.ExecuteAsync("CLIENT", "PAUSE", 3000, "ALL");
        await Should.ThrowAsync<TimeoutException>(client.PingAsync(Ct).AsTask().WaitAsync(Wait, Ct));

        await WaitUntil(() => !lost.IsEmpty);
        lost.TryPeek(out var reason).ShouldBeTrue();
        reason.ShouldBeOfType<RedisConnectionException>().Message.ShouldContain("no reply");

        await WaitUntil(async () =>
        {
            try
            {
                await client.PingAsync(Ct);
                return true;
            }
            catch (Exception ex) when (ex is TimeoutException or RedisConnectionException)
            {
                return false;
            }
        });
        (await client.IncrementAsync(RedisFixture.UniqueKey("n"), cancellationToken: Ct)).ShouldBe(1);
        client.GetStatistics().Reconnects.ShouldBeGreaterThanOrEqualTo(1);
    }

    [Fact]
    public async Task StateChanged_handlers_may_wait_for_other_threads_that_read_the_state()
    {
        await using var server = await RedisServerProcess.StartAsync();
        await using var client = await Connect(server.EndPoint);
        var handlerOutcome = new TaskCompletionSource<RedisConnectionState>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.StateChanged += (_, e) =>
        {
            if (e.State == RedisConnectionState.Disconnected)
            {
                // Blocks on another thread reading State: a deadlock if the event were raised under the state lock.
                var read = Task.Run(() => client.State);
                handlerOutcome.TrySetResult(read.Wait(Wait) ? read.Result : RedisConnectionState.Connecting);
            }
        };

        await server.KillAsync();

        (await handlerOutcome.Task.WaitAsync(Wait * 2, Ct)).ShouldBe(RedisConnectionState.Disconnected);
    }

    [Fact]
    public async Task Subscribing_while_disconnected_takes_effect_after_reconnect()
    {
        await using var server = await RedisServerProcess.StartAsync();
        await using var client = await Connect($"{server.EndPoint},connectTimeout=500");
        await server.KillAsync();
        await WaitUntil(() => !client.IsConnected);
        var channel = RedisFixture.UniqueKey("ch");
        var received = Channel.CreateUnbounded<string>();

        await using var subscription = await client.SubscribeAsync(channel, m => received.Writer.WriteAsync(m.PayloadAsString(), Ct).AsTask(), Ct);
        await server.StartAsync();
        await WaitUntil(() => client.IsConnected);

        await WaitUntil(async () => await client.PublishAsync(channel, "hello", Ct) == 1);
        (await received.Reader.ReadAsync(Ct).AsTask().WaitAsync(Wait, Ct)).ShouldBe("hello");
    }

    private static Task<RedisClient> Connect(string connectionString) =>
        RedisClient.ConnectAsync(
            RedisOptions.Parse(connectionString) with { ReconnectMaxDelay = TimeSpan.FromMilliseconds(500) },
            Ct);

    private static Task WaitUntil(Func<bool> condition) => WaitUntil(() => Task.FromResult(condition()));

    private static async Task WaitUntil(Func<Task<bool>> condition)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(Wait);
        while (!await condition())
        {
            await Task.Delay(20, timeout.Token);
        }
    }
}
