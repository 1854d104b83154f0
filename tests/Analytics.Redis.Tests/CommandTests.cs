using Shouldly;

namespace Analytics.Redis.Tests;

public class CommandTests(RedisFixture redis) : IAsyncLifetime
{
    private RedisClient _client = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _client = await redis.ConnectAsync();

    public async ValueTask DisposeAsync() => await _client.DisposeAsync();

    [Fact]
    public async Task Ping_reports_connected_client()
    {
        (await _client.PingAsync(Ct)).ShouldBeGreaterThan(TimeSpan.Zero);
        _client.IsConnected.ShouldBeTrue();
        _client.State.ShouldBe(RedisConnectionState.Connected);
        _client.GetStatistics().CommandsSent.ShouldBeGreaterThanOrEqualTo(1);
    }

    [Fact]
    public async Task Set_and_get_strings_with_conditions_and_expiry()
    {
        var key = RedisFixture.UniqueKey("s");

        (await _client.GetStringAsync(key, Ct)).ShouldBeNull();
        (await _client.SetAsync(key, "v1", condition: RedisSetCondition.IfExists, cancellationToken: Ct)).ShouldBeFalse();
        (await _client.SetAsync(key, "v1", condition: RedisSetCondition.IfNotExists, cancellationToken: Ct)).ShouldBeTrue();
        (await _client.SetAsync(key, "v2", condition: RedisSetCondition.IfNotExists, cancellationToken: Ct)).ShouldBeFalse();
        (await _client.SetAsync(key, "v3", TimeSpan.FromSeconds(100), RedisSetCondition.IfExists, Ct)).ShouldBeTrue();
        (await _client.GetStringAsync(key, Ct)).ShouldBe("v3");
        (await _client.ExecuteAsync("TTL", key)).AsInt64().ShouldBeInRange(90, 100);

        (await _client.SetAsync(key, "v4", TimeSpan.FromMilliseconds(1500), cancellationToken: Ct)).ShouldBeTrue();
        (await _client.ExecuteAsync("PTTL", key)).AsInt64().ShouldBeInRange(1000, 1500);
    }

    [Fact]
    public async Task GetDelete_returns_and_removes_the_value()
    {
        var key = RedisFixture.UniqueKey("gd");
        await _client.SetAsync(key, "once", cancellationToken: Ct);

        (await _client.GetDeleteStringAsync(key, Ct)).ShouldBe("once");
        (await _client.GetDeleteAsync(key, Ct)).ShouldBeNull();
    }

    [Fact]
    public async Task Delete_unlink_and_exists()
    {
        var (a, b, c) = (RedisFixture.UniqueKey("a"), RedisFixture.UniqueKey("b"), RedisFixture.UniqueKey("c"));
        foreach (var key in new[] { a, b, c })
        {
            await _client.SetAsync(key, "x", cancellationToken: Ct);
        }

        (await _client.ExistsAsync([a, b, c, a], Ct)).ShouldBe(4);
        (await _client.DeleteAsync(a, Ct)).ShouldBeTrue();
        (await _client.DeleteAsync(a, Ct)).ShouldBeFalse();
        (await _client.ExistsAsync(a, Ct)).ShouldBeFalse();
        (await _client.UnlinkAsync([b, c, a], Ct)).ShouldBe(2);
        (await _client.UnlinkAsync(b, Ct)).ShouldBeFalse();
        (await _client.DeleteAsync([b, c], Ct)).ShouldBe(0);
    }

    [Fact]
    public async Task Expire_in_seconds_and_milliseconds()
    {
        var key = RedisFixture.UniqueKey("e");

        (await _client.ExpireAsync(key, TimeSpan.FromSeconds(10), Ct)).ShouldBeFalse();
        await _client.SetAsync(key, "x", cancellationToken: Ct);
        (await _client.ExpireAsync(key, TimeSpan.FromSeconds(10), Ct)).ShouldBeTrue();
        (await _client.ExecuteAsync("TTL", key)).AsInt64().ShouldBeInRange(9, 10);
        (await _client.ExpireAsync(key, TimeSpan.FromMilliseconds(50), Ct)).ShouldBeTrue();
        await Task.Delay(150, Ct);
        (await _client.ExistsAsync(key, Ct)).ShouldBeFalse();
    }

    [Fact]
    public async Task Increment_by_one_and_by_amount()
    {
        var key = RedisFixture.UniqueKey("n");

        (await _client.IncrementAsync(key, cancellationToken: Ct)).ShouldBe(1);
        (await _client.IncrementAsync(key, 41, Ct)).ShouldBe(42);
        (await _client.IncrementAsync(key, -2, Ct)).ShouldBe(40);
        (await _client.GetStringAsync(key, Ct)).ShouldBe("40");
    }

    [Fact]
    public async Task Lists_push_trim_and_range()
    {
        var key = RedisFixture.UniqueKey("l");
        for (var i = 0; i < 5; i++)
        {
            (await _client.ListLeftPushAsync(key, $"e{i}", Ct)).ShouldBe(i + 1);
        }

        await _client.ListLeftPushAsync(key, new byte[] { 1, 2 }, Ct);
        await _client.ListTrimAsync(key, 0, 3, Ct);

        (await _client.ListRangeStringAsync(key, cancellationToken: Ct)).Skip(1).ShouldBe(["e4", "e3", "e2"]);
        (await _client.ListRangeAsync(key, 0, 0, Ct))[0].ShouldBe(new byte[] { 1, 2 });
        (await _client.ListRangeStringAsync(RedisFixture.UniqueKey("none"), cancellationToken: Ct)).ShouldBeEmpty();
    }

    [Fact]
    public async Task Sorted_sets_add_count_and_remove_by_score()
    {
        var key = RedisFixture.UniqueKey("z");

        (await _client.SortedSetAddAsync(key, "a", 1, Ct)).ShouldBeTrue();
        (await _client.SortedSetAddAsync(key, "a", 1.5, Ct)).ShouldBeFalse();
        (await _client.SortedSetAddAsync(key, "b"u8.ToArray(), 2.25, Ct)).ShouldBeTrue();
        (await _client.SortedSetAddAsync(key, "c", 1e10, Ct)).ShouldBeTrue();
        (await _client.SortedSetLengthAsync(key, Ct)).ShouldBe(3);
        (await _client.ExecuteAsync("ZSCORE", key, "b")).AsString().ShouldBe("2.25");

        (await _client.SortedSetRemoveRangeByScoreAsync(key, double.NegativeInfinity, 2.25, Ct)).ShouldBe(2);
        (await _client.SortedSetRemoveRangeByScoreAsync(key, 0, double.PositiveInfinity, Ct)).ShouldBe(1);
        (await _client.SortedSetLengthAsync(key, Ct)).ShouldBe(0);
    }

    [Fact]
    public async Task Hashes_set_and_get_all()
    {
        var key = RedisFixture.UniqueKey("h");

        (await _client.HashGetAllStringAsync(key, Ct)).ShouldBeEmpty();
        (await _client.HashSetAsync(key, "f1", "v1", Ct)).ShouldBeTrue();
        (await _client.HashSetAsync(key, "f1", "v1b", Ct)).ShouldBeFalse();
        (await _client.HashSetAsync(key, "bin", new byte[] { 0, 255 }, Ct)).ShouldBeTrue();
        (await _client.HashSetAsync(key, new Dictionary<string, string> { ["f2"] = "v2", ["f3"] = "" }, Ct)).ShouldBe(2);

        var all = await _client.HashGetAllStringAsync(key, Ct);
        all.Count.ShouldBe(4);
        all["f1"].ShouldBe("v1b");
        all["f3"].ShouldBe("");
        (await _client.HashGetAllAsync(key, Ct))["bin"].ShouldBe(new byte[] { 0, 255 });
    }

    [Fact]
    public async Task Error_replies_become_RedisServerException_and_the_connection_stays_usable()
    {
        var key = RedisFixture.UniqueKey("wrongtype");
        await _client.ListLeftPushAsync(key, "x", Ct);

        var error = await Should.ThrowAsync<RedisServerException>(async () => await _client.GetAsync(key, Ct));
        error.ErrorCode.ShouldBe("WRONGTYPE");
        error.Message.ShouldStartWith("WRONGTYPE Operation against a key holding the wrong kind of value");

        var unknown = await Should.ThrowAsync<RedisServerException>(async () => await _client.ExecuteAsync("NOSUCHCOMMAND", "a"));
        unknown.ErrorCode.ShouldBe("ERR");
        (await _client.IncrementAsync(RedisFixture.UniqueKey("after"), cancellationToken: Ct)).ShouldBe(1);
        _client.GetStatistics().CommandsFailed.ShouldBe(2);
    }

    [Fact]
    public async Task Execute_returns_raw_replies_including_nested_arrays_and_nil()
    {
        var nested = await _client.ExecuteAsync(
            "EVAL",
            "return {1, 'two', {3, {'four', false}}, redis.error_reply('inner failure')}",
            0);

        nested.Kind.ShouldBe(RedisResultKind.Array);
        var items = nested.AsArray()!;
        items[0].AsInt64().ShouldBe(1);
        items[1].AsString().ShouldBe("two");
        items[2].AsArray()![0].AsInt64().ShouldBe(3);
        items[2].AsArray()![1].AsArray()![0].AsString().ShouldBe("four");
        items[2].AsArray()![1].AsArray()![1].IsNull.ShouldBeTrue();
        items[3].Kind.ShouldBe(RedisResultKind.Error);
        items[3].AsString().ShouldBe("inner failure");

        (await _client.ExecuteAsync("GET", RedisFixture.UniqueKey("missing"))).IsNull.ShouldBeTrue();
        (await _client.ExecuteAsync("EVAL", "return {}", 0)).AsArray()!.ShouldBeEmpty();
        (await _client.ExecuteAsync("ECHO", new byte[] { 0, 1 })).AsBytes().ShouldBe(new byte[] { 0, 1 });
        (await _client.ExecuteAsync("PING")).Kind.ShouldBe(RedisResultKind.SimpleString);
    }

    [Fact]
    public async Task Execute_rejects_commands_that_would_break_the_shared_connection()
    {
        await Should.ThrowAsync<ArgumentException>(async () => await _client.ExecuteAsync("subscribe", "ch"));
        await Should.ThrowAsync<ArgumentException>(async () => await _client.ExecuteAsync("MULTI"));
        await Should.ThrowAsync<ArgumentException>(async () => await _client.ExecuteAsync("SELECT", 1));
        await Should.ThrowAsync<ArgumentException>(async () => await _client.ExecuteAsync("AUTH", "user", "pw"));
        await Should.ThrowAsync<ArgumentException>(async () => await _client.ExecuteAsync("PSYNC", "?", -1));
        (await Should.ThrowAsync<ArgumentException>(async () => await _client.ExecuteAsync("client", "reply", "OFF")))
            .Message.ShouldContain("CLIENT REPLY");
    }

    [Theory]
    [InlineData("BLPOP")]
    [InlineData("brpop")]
    [InlineData("BLMOVE")]
    [InlineData("BRPOPLPUSH")]
    [InlineData("BZPOPMIN")]
    [InlineData("BZPOPMAX")]
    [InlineData("BLMPOP")]
    [InlineData("BZMPOP")]
    [InlineData("WAIT")]
    [InlineData("WAITAOF")]
    public async Task Execute_rejects_blocking_commands_naming_them(string command)
    {
        var error = await Should.ThrowAsync<ArgumentException>(async () => await _client.ExecuteAsync(command, "k", 1));

        error.Message.ShouldContain(command.ToUpperInvariant());
    }

    [Fact]
    public async Task Execute_rejects_blocking_stream_reads_but_allows_polling_ones()
    {
        var key = RedisFixture.UniqueKey("stream");

        (await Should.ThrowAsync<ArgumentException>(async () => await _client.ExecuteAsync("XREAD", "BLOCK", 0, "STREAMS", key, "$")))
            .Message.ShouldContain("XREAD");
        (await Should.ThrowAsync<ArgumentException>(
            async () => await _client.ExecuteAsync("xreadgroup", "GROUP", "g", "c", "block", 10, "STREAMS", key, ">")))
            .Message.ShouldContain("XREADGROUP");

        (await _client.ExecuteAsync("XREAD", "COUNT", 1, "STREAMS", key, "0")).IsNull.ShouldBeTrue();
        (await _client.ExecuteAsync("XREAD", "STREAMS", "block", "0")).IsNull.ShouldBeTrue("a key named 'block' is not the option");
        await _client.ExecuteAsync("CLIENT", "PAUSE", 1, "WRITE");
    }

    [Fact]
    public async Task Execute_rejects_a_cancellation_token_passed_as_an_argument()
    {
        var key = RedisFixture.UniqueKey("ct");
        var sent = _client.GetStatistics().CommandsSent;

        var error = await Should.ThrowAsync<ArgumentException>(async () => await _client.ExecuteAsync("GET", key, Ct));
        error.Message.ShouldContain("CancellationToken");
        await Should.ThrowAsync<ArgumentException>(async () => await _client.ExecuteAsync("ECHO", new object()));

        _client.GetStatistics().CommandsSent.ShouldBe(sent);
        (await _client.ExecuteAsync("ECHO", 1.5m)).AsString().ShouldBe("1.5");
    }

    [Fact]
    public async Task Binary_values_with_every_byte_and_empty_values_round_trip()
    {
        var key = RedisFixture.UniqueKey("bin");
        var everyByte = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();

        await _client.SetAsync(key, everyByte, cancellationToken: Ct);
        (await _client.GetAsync(key, Ct)).ShouldBe(everyByte);

        await _client.SetAsync(key, ReadOnlyMemory<byte>.Empty, cancellationToken: Ct);
        (await _client.GetAsync(key, Ct)).ShouldBe([]);
        (await _client.GetStringAsync(key, Ct)).ShouldBe("");

        var text = "ünïcødé ✓ \r\n $3 *1";
        await _client.SetAsync(key, text, cancellationToken: Ct);
        (await _client.GetStringAsync(key, Ct)).ShouldBe(text);
    }

    [Fact]
    public async Task Five_megabyte_values_round_trip_while_other_commands_interleave()
    {
        var key = RedisFixture.UniqueKey("big");
        var big = new byte[5 * 1024 * 1024];
        Random.Shared.NextBytes(big);

        var set = _client.SetAsync(key, big, cancellationToken: Ct).AsTask();
        var counter = RedisFixture.UniqueKey("counter");
        var increments = Enumerable.Range(0, 50).Select(_ => _client.IncrementAsync(counter, cancellationToken: Ct).AsTask()).ToArray();
        (await set).ShouldBeTrue();
        await Task.WhenAll(increments);

        var get = _client.GetAsync(key, Ct).AsTask();
        (await _client.GetStringAsync(counter, Ct)).ShouldBe("50");
        (await get)!.AsSpan().SequenceEqual(big).ShouldBeTrue();
    }

    [Fact]
    public async Task Publish_reports_the_receiver_count()
    {
        (await _client.PublishAsync(RedisFixture.UniqueKey("nobody"), "hi", Ct)).ShouldBe(0);
    }

    [Fact]
    public async Task Commands_after_dispose_throw_ObjectDisposedException()
    {
        var client = await redis.ConnectAsync();
        await client.DisposeAsync();

        client.State.ShouldBe(RedisConnectionState.Disposed);
        await Should.ThrowAsync<ObjectDisposedException>(async () => await client.GetAsync("k", Ct));
    }
}
