using System.Collections.Concurrent;

namespace Analytics.Api.Infrastructure.Caching;

/// <summary>
/// Concurrent misses of one key on this node compute once: the first caller computes and stores, the others wait
/// for its bytes. A caller that gives up (its token) stops waiting without stopping the others; when the computing
/// caller gives up, a waiter that did not takes over.
/// </summary>
public sealed class SingleFlight
{
    private readonly ConcurrentDictionary<string, Task<byte[]>> _running = new(StringComparer.Ordinal);

    /// <summary>The cached bytes of <paramref name="key"/>, or the bytes <paramref name="create"/> returns, stored for <paramref name="ttl"/>.</summary>
    public async Task<(byte[] Value, bool FromCache)> GetOrCreateAsync(ICache cache, string key, TimeSpan ttl, Func<CancellationToken, Task<byte[]>> create, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentNullException.ThrowIfNull(create);
        if (await cache.GetAsync(key, ct) is { } cached)
        {
            return (cached, true);
        }

        while (true)
        {
            var mine = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
            var running = _running.GetOrAdd(key, mine.Task);
            if (running != mine.Task)
            {
                try
                {
                    // Computed for another caller on this node: as good as a cache hit for this one.
                    return (await running.WaitAsync(ct), true);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    continue;
                }
            }

            try
            {
                var value = await create(ct);

                // Stored also when this caller has given up meanwhile: the waiters and the next callers read it. Added
                // where nothing is: a fill is best effort, while SetAsync is for writes that replace an entry.
                await cache.AddAsync(key, value, ttl, CancellationToken.None);
                mine.SetResult(value);
                return (value, false);
            }
            catch (OperationCanceledException)
            {
                mine.SetCanceled(CancellationToken.None);
                throw;
            }
            catch (Exception ex)
            {
                mine.SetException(ex);
                _ = mine.Task.Exception; // observed here: waiters rethrow their own copy
                throw;
            }
            finally
            {
                _running.TryRemove(KeyValuePair.Create(key, mine.Task));
            }
        }
    }
}
