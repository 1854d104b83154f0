using Analytics.Api.Infrastructure.Caching;
using Analytics.Api.Infrastructure.Messaging;
using Analytics.Api.Infrastructure.RateLimiting;
using Analytics.Api.Infrastructure.Redis;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Analytics.Api.Tests.Infrastructure.Stores;

/// <summary>One suite, run against the in-process stores and against the Redis-backed ones on a real server.</summary>
public abstract class StoreContractTests : IAsyncDisposable
{
    protected abstract ICache Cache { get; }

    protected abstract IRateLimitStore RateLimits { get; }

    protected abstract IEventBus Bus { get; }

    public abstract ValueTask DisposeAsync();

    private static string Key() => $"test:{Guid.NewGuid():N}";

    [Fact]
    public async Task Cache_returns_what_was_set_until_removed()
    {
        var key = Key();
        (await Cache.GetAsync(key, default)).ShouldBeNull();

        await Cache.SetAsync(key, [0, 1, 255], TimeSpan.FromMinutes(1), default);
        (await Cache.GetAsync(key, default)).ShouldBe(new byte[] { 0, 1, 255 });

        await Cache.RemoveAsync(key, default);
        (await Cache.GetAsync(key, default)).ShouldBeNull();
    }

    [Fact]
    public async Task Cache_entries_expire_after_their_ttl()
    {
        var key = Key();
        await Cache.SetAsync(key, [1], TimeSpan.FromMilliseconds(200), default);

        await Task.Delay(600);

        (await Cache.GetAsync(key, default)).ShouldBeNull();
    }

    [Fact]
    public async Task Generations_start_at_zero_and_each_bump_counts_one_up()
    {
        var scope = Key();
        (await Cache.GetGenerationAsync(scope, default)).ShouldBe(0);

        await Cache.BumpGenerationAsync(scope, default);
        var first = await Cache.GetGenerationAsync(scope, default);
        await Cache.BumpGenerationAsync(scope, default);

        first.ShouldBeGreaterThan(0);
        (await Cache.GetGenerationAsync(scope, default)).ShouldBe(first + 1);
    }

    [Fact]
    public async Task Concurrent_misses_of_one_key_compute_once_and_later_reads_hit()
    {
        var key = Key();
        var calls = 0;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Func<CancellationToken, Task<byte[]>> create = async _ =>
        {
            Interlocked.Increment(ref calls);
            await release.Task;
            return [7];
        };

        var readers = Enumerable.Range(0, 8).Select(_ => Cache.GetOrCreateAsync(key, TimeSpan.FromMinutes(1), create, default)).ToList();
        await Task.Delay(300);
        release.SetResult();
        var answers = await Task.WhenAll(readers);

        calls.ShouldBe(1);
        answers.ShouldAllBe(a => a.Value.SequenceEqual(new byte[] { 7 }));
        answers.Count(a => !a.FromCache).ShouldBe(1);
        (await Cache.GetOrCreateAsync(key, TimeSpan.FromMinutes(1), create, default)).FromCache.ShouldBeTrue();
        calls.ShouldBe(1);
    }

    [Fact]
    public async Task A_waiting_reader_computes_itself_when_the_computing_reader_gives_up()
    {
        var key = Key();
        using var givingUp = new CancellationTokenSource();
        var first = Cache.GetOrCreateAsync(key, TimeSpan.FromMinutes(1), async ct =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            return [1];
        }, givingUp.Token);
        await Task.Delay(200);
        var second = Cache.GetOrCreateAsync(key, TimeSpan.FromMinutes(1), _ => Task.FromResult<byte[]>([2]), default);
        await Task.Delay(200);

        await givingUp.CancelAsync();

        await Should.ThrowAsync<OperationCanceledException>(first);
        var (value, fromCache) = await second;
        (value.Single(), fromCache).ShouldBe(((byte)2, false));
    }

    [Fact]
    public async Task Rate_limit_allows_exactly_the_limit_under_parallel_hits_and_says_when_to_retry()
    {
        var key = Key();
        var rule = new RateLimitRule(5, TimeSpan.FromMinutes(1));

        var decisions = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => RateLimits.HitAsync(key, rule, default)));

        decisions.Count(d => d.Allowed).ShouldBe(5);
        decisions.Where(d => d.Allowed).Select(d => d.Remaining).OrderBy(r => r).ShouldBe([0, 1, 2, 3, 4]);
        decisions.Where(d => !d.Allowed).ShouldAllBe(d => d.RetryAfter > TimeSpan.Zero && d.RetryAfter <= TimeSpan.FromMinutes(1) && d.Remaining == 0);
    }

    [Fact]
    public async Task Cell_rate_allows_exactly_the_burst_under_parallel_hits()
    {
        var key = Key();
        var rule = new RateRule(0.001, 10);

        var decisions = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => RateLimits.HitRateAsync(key, rule, 1, default)));

        decisions.Count(d => d.Allowed).ShouldBe(10);
        decisions.Where(d => d.Allowed).Select(d => d.Remaining).OrderBy(r => r).ShouldBe([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        decisions.Where(d => !d.Allowed).ShouldAllBe(d => d.RetryAfter > TimeSpan.Zero && d.Remaining == 0);
    }

    [Fact]
    public async Task Cell_rate_takes_a_cost_all_or_nothing_and_a_refusal_takes_nothing()
    {
        var key = Key();
        var rule = new RateRule(0.001, 10);

        var first = RateLimits.HitRateAsync(key, rule, 6, default);
        var second = RateLimits.HitRateAsync(key, rule, 6, default);
        var third = RateLimits.HitRateAsync(key, rule, 4, default);

        (await first).ShouldSatisfyAllConditions(d => d.Allowed.ShouldBeTrue(), d => d.Remaining.ShouldBe(4));
        (await second).Allowed.ShouldBeFalse();
        (await third).ShouldSatisfyAllConditions(d => d.Allowed.ShouldBeTrue(), d => d.Remaining.ShouldBe(0));
        (await RateLimits.HitRateAsync(key, rule, 1, default)).Allowed.ShouldBeFalse();
    }

    [Fact]
    public async Task Rate_limit_window_slides_and_reset_forgets()
    {
        var key = Key();
        var rule = new RateLimitRule(2, TimeSpan.FromMilliseconds(400));
        (await RateLimits.HitAsync(key, rule, default)).Allowed.ShouldBeTrue();
        (await RateLimits.HitAsync(key, rule, default)).Allowed.ShouldBeTrue();
        (await RateLimits.HitAsync(key, rule, default)).Allowed.ShouldBeFalse();

        await Task.Delay(600);
        (await RateLimits.HitAsync(key, rule, default)).Allowed.ShouldBeTrue();

        await RateLimits.ResetAsync(key, default);
        (await RateLimits.HitAsync(key, rule, default)).Remaining.ShouldBe(1);
    }

    [Fact]
    public async Task Bus_delivers_published_messages_to_subscribers_of_the_topic_only()
    {
        var topic = Key();
        var received = new TaskCompletionSource<Sample>(TaskCreationOptions.RunContinuationsAsynchronously);
        var other = 0;
        using var subscription = Bus.Subscribe<Sample>(topic, m => { received.TrySetResult(m); return Task.CompletedTask; });
        using var elsewhere = Bus.Subscribe<Sample>(Key(), _ => { Interlocked.Increment(ref other); return Task.CompletedTask; });
        await WaitForSubscriptionAsync();

        await Bus.PublishAsync(topic, new Sample("hello", 42), default);

        (await received.Task.WaitAsync(TimeSpan.FromSeconds(5))).ShouldBe(new Sample("hello", 42));
        other.ShouldBe(0);
    }

    [Fact]
    public async Task Bus_skips_a_subscriber_while_it_is_not_interested()
    {
        var topic = Key();
        var skipped = 0;
        var received = new TaskCompletionSource<Sample>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var uninterested = Bus.Subscribe<Sample>(topic, _ => { Interlocked.Increment(ref skipped); return Task.CompletedTask; }, () => false);
        using var interested = Bus.Subscribe<Sample>(topic, m => { received.TrySetResult(m); return Task.CompletedTask; }, () => true);
        await WaitForSubscriptionAsync();

        await Bus.PublishAsync(topic, new Sample("hello", 7), default);

        // A message's handlers run in subscription order: once the second has it, the first has passed.
        (await received.Task.WaitAsync(TimeSpan.FromSeconds(5))).ShouldBe(new Sample("hello", 7));
        skipped.ShouldBe(0);
    }

    protected virtual Task WaitForSubscriptionAsync() => Task.CompletedTask;

    public sealed record Sample(string Text, int Number);
}

public sealed class InProcessStoreTests : StoreContractTests
{
    protected override ICache Cache { get; } = new InProcessCache(new MemoryCache(new MemoryCacheOptions { SizeLimit = 1024 * 1024 }));

    protected override IRateLimitStore RateLimits { get; } = new InProcessRateLimitStore(TimeProvider.System);

    protected override IEventBus Bus { get; } = new InProcessEventBus(new LocalSubscribers(NullLogger<LocalSubscribers>.Instance));

    public override ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

public sealed class RedisStoreTests : StoreContractTests
{
    private readonly RedisLink _link;
    private readonly RedisEventBus _bus;

    public RedisStoreTests()
    {
        _link = new RedisLink(Options.Create(new RedisStoreOptions { ConnectionString = TestRedis.ConnectionString }));
        var outage = new RedisOutage(NullLogger<RedisOutage>.Instance);
        Cache = new RedisCache(_link, outage, TimeProvider.System);
        RateLimits = new RedisRateLimitStore(_link, outage, new InProcessRateLimitStore(TimeProvider.System));
        _bus = new RedisEventBus(_link, outage, new LocalSubscribers(NullLogger<LocalSubscribers>.Instance));
        _bus.StartAsync(default).GetAwaiter().GetResult();
    }

    protected override ICache Cache { get; }

    protected override IRateLimitStore RateLimits { get; }

    protected override IEventBus Bus => _bus;

    // The pattern subscription is confirmed asynchronously by the server.
    protected override Task WaitForSubscriptionAsync() => Task.Delay(200);

    public override async ValueTask DisposeAsync()
    {
        await _bus.StopAsync(default);
        await _link.DisposeAsync();
    }
}

/// <summary>Redis configured but not answering: requests must still be served from the fallbacks.</summary>
public sealed class RedisOutageTests : IAsyncDisposable
{
    private readonly RedisLink _link = new(Options.Create(new RedisStoreOptions { ConnectionString = "127.0.0.1:1,connectTimeout=200" }));
    private readonly RedisOutage _outage = new(NullLogger<RedisOutage>.Instance);

    public ValueTask DisposeAsync() => _link.DisposeAsync();

    [Fact]
    public async Task With_redis_down_cache_misses_limits_fall_back_and_the_bus_delivers_locally()
    {
        var cache = new RedisCache(_link, _outage, TimeProvider.System);
        var limits = new RedisRateLimitStore(_link, _outage, new InProcessRateLimitStore(TimeProvider.System));
        var bus = new RedisEventBus(_link, _outage, new LocalSubscribers(NullLogger<LocalSubscribers>.Instance));
        var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var subscription = bus.Subscribe<string>("topic", m => { received.TrySetResult(m); return Task.CompletedTask; });

        await cache.SetAsync("k", [1], TimeSpan.FromMinutes(1), default);
        (await cache.GetAsync("k", default)).ShouldBeNull();
        var rule = new RateLimitRule(1, TimeSpan.FromMinutes(1));
        (await limits.HitAsync("k", rule, default)).Allowed.ShouldBeTrue();
        (await limits.HitAsync("k", rule, default)).Allowed.ShouldBeFalse();
        await bus.PublishAsync("topic", "local", default);

        (await received.Task.WaitAsync(TimeSpan.FromSeconds(5))).ShouldBe("local");
        _outage.IsDown.ShouldBeTrue();

        // An unknown generation is none a scope has (negative), never the 0 of a scope not bumped yet.
        (await cache.GetGenerationAsync("scope", default)).ShouldBeLessThan(0);
    }
}

/// <summary>The bus delivers a failed publish to this node only when it certainly never reached Redis.</summary>
public sealed class RedisEventBusOutageTests
{
    [Fact]
    public async Task A_publish_lost_with_its_connection_after_it_was_sent_is_not_also_delivered_locally()
    {
        await using var server = await RedisServerProcess.StartAsync();
        await using var link = new RedisLink(Options.Create(new RedisStoreOptions { ConnectionString = $"{server.EndPoint},syncTimeout=30000" }));
        var bus = new RedisEventBus(link, new RedisOutage(NullLogger<RedisOutage>.Instance), new LocalSubscribers(NullLogger<LocalSubscribers>.Instance));
        var delivered = 0;
        using var subscription = bus.Subscribe<string>("topic", _ => { Interlocked.Increment(ref delivered); return Task.CompletedTask; });
        var client = await link.ClientAsync();
        await using (var admin = await server.ConnectAsync())
        {
            await admin.ExecuteAsync("CLIENT", "PAUSE", 30_000, "ALL");
        }

        // Handed to the connection, then the server goes away: Redis might have run it (a stall, not a crash).
        var publish = bus.PublishAsync("topic", "maybe sent", default);
        for (var i = 0; i < 200 && client.GetStatistics().PendingCommands == 0; i++)
        {
            await Task.Delay(25);
        }

        client.GetStatistics().PendingCommands.ShouldBe(1);
        await server.KillAsync();
        await publish.WaitAsync(TimeSpan.FromSeconds(10));

        Volatile.Read(ref delivered).ShouldBe(0);
    }
}

/// <summary>Rate leases (ADR 12): two stores on one Redis server are two nodes sharing a key's budget.</summary>
public sealed class RateLeaseTests : IAsyncDisposable
{
    // Twenty units, refilled so slowly (one per 1,000 s) that nothing comes back during a test.
    private static readonly RateRule Rule = new(0.001, 20);

    private readonly RedisLink _link = new(Options.Create(new RedisStoreOptions { ConnectionString = TestRedis.ConnectionString }));

    private readonly RedisOutage _outage = new(NullLogger<RedisOutage>.Instance);
    private readonly string _key = $"test:{Guid.NewGuid():N}";

    public ValueTask DisposeAsync() => _link.DisposeAsync();

    private RedisRateLimitStore Node(TimeSpan leaseLifetime) =>
        new(_link, _outage, new InProcessRateLimitStore(TimeProvider.System), new RateLeases(_ => 5, leaseLifetime));

    [Fact]
    public async Task A_lease_is_taken_from_the_shared_budget_before_its_node_spends_it()
    {
        var a = Node(TimeSpan.FromMinutes(1));
        var b = Node(TimeSpan.FromMinutes(1));

        (await a.HitRateAsync(_key, Rule, 1, default)).Remaining.ShouldBe(19);
        // B sees A's five leased units as spent: 20 - 1 - 5 - 1.
        (await b.HitRateAsync(_key, Rule, 1, default)).Remaining.ShouldBe(13);

        // A spends its lease without asking Redis (B's lease of five came next: 8 units are left there).
        for (var i = 0; i < 5; i++)
        {
            (await a.HitRateAsync(_key, Rule, 1, default)).Allowed.ShouldBeTrue();
        }

        (await a.HitRateAsync(_key, Rule, 1, default)).Remaining.ShouldBe(7);
        // A cost larger than the lease goes to Redis: 7 - 5 (A's new lease) = 2 left, so 3 is refused and takes nothing.
        (await a.HitRateAsync(_key, Rule, 10, default)).Allowed.ShouldBeFalse();
    }

    [Fact]
    public async Task A_refused_hit_takes_no_lease_so_the_budget_it_waits_for_stays()
    {
        var plain = new RedisRateLimitStore(_link, _outage, new InProcessRateLimitStore(TimeProvider.System), new RateLeases(_ => 0, TimeSpan.FromMinutes(1)));
        var a = Node(TimeSpan.FromMinutes(1));
        (await plain.HitRateAsync(_key, Rule, 13, default)).Remaining.ShouldBe(7);

        // Ten do not fit in the seven left; the lease of five would, but a refused caller's call takes none.
        var refused = await a.HitRateAsync(_key, Rule, 10, default);

        refused.Allowed.ShouldBeFalse();
        (await plain.HitRateAsync(_key, Rule, 7, default)).Allowed.ShouldBeTrue();
    }

    [Fact]
    public async Task A_call_with_a_hit_larger_than_a_lease_takes_none()
    {
        var plain = new RedisRateLimitStore(_link, _outage, new InProcessRateLimitStore(TimeProvider.System), new RateLeases(_ => 0, TimeSpan.FromMinutes(1)));
        var a = Node(TimeSpan.FromMinutes(1));

        // Ten is more than a lease of five: this node could not spend one on such hits.
        (await a.HitRateAsync(_key, Rule, 10, default)).Remaining.ShouldBe(10);

        (await plain.HitRateAsync(_key, Rule, 10, default)).Allowed.ShouldBeTrue();
    }

    [Fact]
    public async Task Nodes_with_leases_never_admit_more_than_the_budget_under_parallel_hits()
    {
        var a = Node(TimeSpan.FromMinutes(1));
        var b = Node(TimeSpan.FromMinutes(1));

        var decisions = await Task.WhenAll(Enumerable.Range(0, 60).Select(i => (i % 2 == 0 ? a : b).HitRateAsync(_key, Rule, 1, default)));

        // Never more than 20; fewer by at most one unspent lease per node (a lease granted with the last hits a node sent).
        decisions.Count(d => d.Allowed).ShouldBeInRange(10, 20);
        decisions.Where(d => !d.Allowed).ShouldAllBe(d => d.RetryAfter > TimeSpan.Zero);
    }

    [Fact]
    public async Task An_expired_lease_is_not_spent()
    {
        var a = Node(TimeSpan.FromMilliseconds(200));
        (await a.HitRateAsync(_key, Rule, 1, default)).Remaining.ShouldBe(19);

        await Task.Delay(400);

        // Decided by Redis (20 - 1 - 5 - 1), not from the expired lease (which would say 14 + 4).
        (await a.HitRateAsync(_key, Rule, 1, default)).Remaining.ShouldBe(13);
    }

    [Theory]
    [InlineData(1000, 2000, 50)]
    [InlineData(1000, 200, 10)]
    [InlineData(100, 100_000, 5)]
    [InlineData(1000, 20, 0)]
    [InlineData(0.1, 3, 0)]
    public void By_default_a_lease_is_50_ms_of_the_rate_or_a_twentieth_of_the_burst_whichever_is_smaller(double perSecond, int burst, int units) =>
        RateLeases.Default.Size(new RateRule(perSecond, burst)).ShouldBe(units);
}

/// <summary>Entries whose replacing write was lost while Redis was unreachable are deleted once it answers again.</summary>
public sealed class RedisReturnTests
{
    [Fact]
    public async Task A_replacing_write_and_a_removal_made_during_an_outage_land_when_redis_returns()
    {
        // Not started yet: this node begins cut off.
        await using var redis = new RedisServerProcess();
        await using var link = new RedisLink(Options.Create(new RedisStoreOptions { ConnectionString = $"{redis.EndPoint},connectTimeout=200" }));
        var cache = new RedisCache(link, new RedisOutage(NullLogger<RedisOutage>.Instance), TimeProvider.System);

        // Say a session's state: it changed (signed out) while this node could not reach Redis.
        await cache.SetAsync("session", [2], TimeSpan.FromMinutes(1), default);
        await cache.RemoveAsync("page", default);
        (await cache.GetAsync("session", default)).ShouldBeNull();

        await redis.StartAsync();
        // The old values, as the other nodes left them while this one was cut off.
        await using (var other = await redis.ConnectAsync())
        {
            await other.SetAsync("cache:session", "old", TimeSpan.FromMinutes(1));
            await other.SetAsync("cache:page", "old", TimeSpan.FromMinutes(1));
        }

        // Any command that reaches Redis again deletes what was not written (readers then refill from PostgreSQL).
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (await cache.GetAsync("session", default) is not null || await cache.GetAsync("page", default) is not null)
        {
            await Task.Delay(100, patience.Token);
        }
    }
}

/// <summary>Generations in Redis: one per user with events, so they must not stay for ever.</summary>
public sealed class RedisGenerationTests : IAsyncDisposable
{
    private readonly RedisLink _link = new(Options.Create(new RedisStoreOptions { ConnectionString = TestRedis.ConnectionString }));

    public ValueTask DisposeAsync() => _link.DisposeAsync();

    [Fact]
    public async Task A_bumped_generation_starts_from_the_time_counts_up_and_expires_a_week_after_its_last_bump()
    {
        var cache = new RedisCache(_link, new RedisOutage(NullLogger<RedisOutage>.Instance), TimeProvider.System);
        var scope = $"test:{Guid.NewGuid():N}";

        await cache.BumpGenerationAsync(scope, default);
        var first = await cache.GetGenerationAsync(scope, default);
        await cache.BumpGenerationAsync(scope, default);

        // A scope's first number is the time (ms), so one that expired never counts from 1 again.
        first.ShouldBeGreaterThan(DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeMilliseconds());
        (await cache.GetGenerationAsync(scope, default)).ShouldBe(first + 1);
        var ttl = (await (await _link.ClientAsync()).ExecuteAsync("PTTL", $"gen:{scope}")).AsInt64();
        TimeSpan.FromMilliseconds(ttl).ShouldBeInRange(TimeSpan.FromDays(7) - TimeSpan.FromMinutes(1), TimeSpan.FromDays(7));
    }
}
