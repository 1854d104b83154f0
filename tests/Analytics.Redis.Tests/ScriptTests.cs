using Shouldly;

namespace Analytics.Redis.Tests;

public class ScriptTests(RedisFixture redis)
{
    private static readonly RedisScript IncrementWithLimit = new("""
        local current = redis.call('INCRBY', KEYS[1], ARGV[1])
        if current > tonumber(ARGV[2]) then
            return {current, 'over'}
        end
        return {current, 'ok'}
        """);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void Script_sha1_matches_the_server()
    {
        new RedisScript("return 1").Sha1.ShouldBe("e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
    }

    [Fact]
    public async Task Script_load_returns_the_same_sha1()
    {
        await using var client = await redis.ConnectAsync();

        (await client.ScriptLoadAsync(IncrementWithLimit, Ct)).ShouldBe(IncrementWithLimit.Sha1);
    }

    [Fact]
    public async Task Evaluate_falls_back_to_EVAL_after_SCRIPT_FLUSH()
    {
        await using var client = await redis.ConnectAsync();
        var key = RedisFixture.UniqueKey("limit");

        var first = await client.ScriptEvaluateAsync(IncrementWithLimit, [key], [5, 7], Ct);
        first.AsArray()![0].AsInt64().ShouldBe(5);
        first.AsArray()![1].AsString().ShouldBe("ok");

        await client.ExecuteAsync("SCRIPT", "FLUSH");
        var failedBefore = client.GetStatistics().CommandsFailed;

        var second = await client.ScriptEvaluateAsync(IncrementWithLimit, [key], [5, 7], Ct);
        second.AsArray()![0].AsInt64().ShouldBe(10);
        second.AsArray()![1].AsString().ShouldBe("over");
        client.GetStatistics().CommandsFailed.ShouldBe(failedBefore + 1, "the NOSCRIPT reply counts as a failed command");

        var third = await client.ScriptEvaluateAsync(IncrementWithLimit, [key], [1, 100], Ct);
        third.AsArray()![0].AsInt64().ShouldBe(11);
        client.GetStatistics().CommandsFailed.ShouldBe(failedBefore + 1, "EVAL cached the script again");
    }

    [Fact]
    public async Task Script_errors_become_RedisServerException()
    {
        await using var client = await redis.ConnectAsync();

        var error = await Should.ThrowAsync<RedisServerException>(
            async () => await client.ScriptEvaluateAsync(new RedisScript("return redis.error_reply('LIMIT exceeded')"), cancellationToken: Ct));

        error.Message.ShouldBe("LIMIT exceeded");
        error.ErrorCode.ShouldBe("LIMIT");
    }
}
