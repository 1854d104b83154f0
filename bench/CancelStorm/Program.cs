using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;

// Callers that give up: CALLERS loops each send GET URL with a bearer token and abandon the request (closing its
// connection) after a random time up to GIVE_UP_MS, for SECONDS. What a service sees when clients time out or
// navigate away under load; every abandoned request must cost the server no error and no broken connection.
// Usage: Analytics.Bench.CancelStorm URL TOKEN [seconds=10] [callers=256] [giveUpMs=300]
// Prints one JSON line: answers by status, abandoned requests, client-side failures.
if (args.Length < 2)
{
    Console.Error.WriteLine("usage: Analytics.Bench.CancelStorm URL TOKEN [seconds=10] [callers=256] [giveUpMs=300]");
    return 2;
}

var url = new Uri(args[0]);
var seconds = args.Length > 2 ? double.Parse(args[2], CultureInfo.InvariantCulture) : 10;
var callers = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 256;
var giveUpMs = args.Length > 4 ? double.Parse(args[4], CultureInfo.InvariantCulture) : 300;

using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = callers * 2 });
http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", args[1]);
var statuses = new ConcurrentDictionary<int, long>();
long abandoned = 0, failed = 0;
var clock = Stopwatch.StartNew();
var until = TimeSpan.FromSeconds(seconds);
await Task.WhenAll(Enumerable.Range(0, callers).Select(async caller =>
{
    var random = new Random(caller);
    while (clock.Elapsed < until)
    {
        using var giveUp = new CancellationTokenSource(TimeSpan.FromMilliseconds(random.NextDouble() * giveUpMs));
        try
        {
            using var response = await http.GetAsync(url, HttpCompletionOption.ResponseContentRead, giveUp.Token);
            statuses.AddOrUpdate((int)response.StatusCode, 1, (_, n) => n + 1);
        }
        catch (OperationCanceledException) when (giveUp.IsCancellationRequested)
        {
            Interlocked.Increment(ref abandoned);
        }
        catch (HttpRequestException)
        {
            Interlocked.Increment(ref failed);
        }
    }
}));

var answered = statuses.Values.Sum();
Console.WriteLine(JsonSerializer.Serialize(new
{
    seconds = Math.Round(clock.Elapsed.TotalSeconds, 3),
    callers,
    giveUpMs,
    answered,
    answeredPerSecond = Math.Round(answered / clock.Elapsed.TotalSeconds, 1),
    abandoned,
    failed,
    serverErrors = statuses.Where(s => s.Key >= 500).Sum(s => s.Value),
    statuses = statuses.OrderBy(s => s.Key).ToDictionary(s => s.Key.ToString(CultureInfo.InvariantCulture), s => s.Value),
}));
return 0;
