using Shouldly;

namespace Analytics.Redis.Tests;

public class ConcurrencyTests(RedisFixture redis)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Hundred_concurrent_callers_each_get_exactly_their_own_replies()
    {
        const int Callers = 100;
        const int RoundsPerCaller = 25; // 4 commands per round: 100 x 100 = 10,000 commands
        await using var client = await redis.ConnectAsync();
        var prefix = RedisFixture.UniqueKey("load");
        var sharedCounter = $"{prefix}:shared";

        await client.SetAsync(sharedCounter, "0", TimeSpan.FromMinutes(1), cancellationToken: Ct);
        var callers = Enumerable.Range(0, Callers).Select(caller => Task.Run(async () =>
        {
            var ownCounter = $"{prefix}:counter:{caller}";
            for (var round = 0; round < RoundsPerCaller; round++)
            {
                var key = $"{prefix}:{caller}:{round}";
                var value = $"value-{caller}-{round}";
                (await client.SetAsync(key, value, TimeSpan.FromMinutes(1), cancellationToken: Ct)).ShouldBeTrue();
                (await client.GetStringAsync(key, Ct)).ShouldBe(value);
                (await client.IncrementAsync(ownCounter, cancellationToken: Ct)).ShouldBe(round + 1);
                await client.IncrementAsync(sharedCounter, caller, Ct);
            }
        }, Ct)).ToArray();

        await Task.WhenAll(callers).WaitAsync(TimeSpan.FromSeconds(60), Ct);

        (await client.GetStringAsync(sharedCounter, Ct)).ShouldBe((RoundsPerCaller * Callers * (Callers - 1) / 2).ToString(System.Globalization.CultureInfo.InvariantCulture));
        for (var caller = 0; caller < Callers; caller++)
        {
            (await client.GetStringAsync($"{prefix}:counter:{caller}", Ct)).ShouldBe(RoundsPerCaller.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        var statistics = client.GetStatistics();
        statistics.CommandsFailed.ShouldBe(0);
        statistics.CommandsSent.ShouldBeGreaterThanOrEqualTo(Callers * RoundsPerCaller * 4);
    }

    [Fact]
    public async Task Many_commands_issued_without_awaiting_complete_in_order()
    {
        await using var client = await redis.ConnectAsync();
        var key = RedisFixture.UniqueKey("burst");

        var increments = Enumerable.Range(0, 5000).Select(_ => client.IncrementAsync(key, cancellationToken: Ct).AsTask()).ToArray();
        var results = await Task.WhenAll(increments).WaitAsync(TimeSpan.FromSeconds(30), Ct);

        results.ShouldBe(Enumerable.Range(1, 5000).Select(i => (long)i));
    }
}
