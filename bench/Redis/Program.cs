using System.Diagnostics;
using System.Globalization;
using System.Text;
using Analytics.Redis;

// Measures GET/SET throughput of RedisClient at several caller counts next to redis-benchmark against the same
// server. Usage: dotnet run -c Release -- --endpoint 127.0.0.1:6379 [--seconds 3] [--requests 300000] [--baseline false]
var arguments = ParseArguments(args);
var endpoint = arguments.GetValueOrDefault("endpoint", "127.0.0.1:6379");
var seconds = int.Parse(arguments.GetValueOrDefault("seconds", "3"), CultureInfo.InvariantCulture);
var requests = int.Parse(arguments.GetValueOrDefault("requests", "300000"), CultureInfo.InvariantCulture);
var (host, port) = SplitEndpoint(endpoint);
int[] callerCounts = [1, 16, 64];
string[] commands = ["SET", "GET"];

var withBaseline = !string.Equals(arguments.GetValueOrDefault("baseline", "true"), "false", StringComparison.OrdinalIgnoreCase);
var baseline = new Dictionary<string, double>();
foreach (var callers in withBaseline ? callerCounts : [])
{
    foreach (var (test, rps) in RunRedisBenchmark(host, port, callers, pipeline: 1, callers == 1 ? requests / 6 : requests))
    {
        baseline[$"{test}/c{callers}"] = rps;
    }
}

if (withBaseline)
{
    RunPipelinedBaseline();
}

await using var client = await RedisClient.ConnectAsync(endpoint);
await RunClient(client, "SET", 16, TimeSpan.FromSeconds(1)); // JIT and tiering warm-up
await RunClient(client, "GET", 16, TimeSpan.FromSeconds(1));

var rows = new List<(string Command, int Callers, double OpsPerSecond, double BytesPerOp, double CpuMicrosecondsPerOp)>();
foreach (var callers in callerCounts)
{
    foreach (var command in commands)
    {
        var result = await RunClient(client, command, callers, TimeSpan.FromSeconds(seconds));
        rows.Add((command, callers, result.OpsPerSecond, result.BytesPerOp, result.CpuMicrosecondsPerOp));
    }
}

var table = new StringBuilder()
    .AppendLine("| Command | Callers | RedisClient ops/s | Allocated B/op | Client CPU µs/op | redis-benchmark -c N ops/s | Ratio | redis-benchmark -c 64 -P 16 ops/s | Ratio |")
    .AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
foreach (var (command, callers, opsPerSecond, bytesPerOp, cpuPerOp) in rows)
{
    var plain = baseline.GetValueOrDefault($"{command}/c{callers}");
    var pipelined = baseline.GetValueOrDefault($"{command}/P16");
    table.AppendLine(CultureInfo.InvariantCulture,
        $"| {command} | {callers} | {opsPerSecond:N0} | {bytesPerOp:N0} | {cpuPerOp:N2} | {plain:N0} | {Ratio(opsPerSecond, plain)} | {pipelined:N0} | {Ratio(opsPerSecond, pipelined)} |");
}

// Run the pipelined baseline again and keep the better result: it is noisy on a shared machine, and the
// higher figure makes the ratio the conservative one.
if (withBaseline)
{
    RunPipelinedBaseline();
}

var statistics = client.GetStatistics();
Console.WriteLine(table);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"Client counters: sent {statistics.CommandsSent:N0}, failed {statistics.CommandsFailed:N0}, timeouts {statistics.Timeouts:N0}."));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"Machine: {Environment.ProcessorCount} logical CPUs, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}, {seconds} s per client run."));

void RunPipelinedBaseline()
{
    foreach (var (test, rps) in RunRedisBenchmark(host, port, 64, pipeline: 16, requests * 4))
    {
        baseline[$"{test}/P16"] = Math.Max(rps, baseline.GetValueOrDefault($"{test}/P16"));
    }
}

static async Task<(double OpsPerSecond, double BytesPerOp, double CpuMicrosecondsPerOp)> RunClient(RedisClient client, string command, int callers, TimeSpan duration)
{
    var value = "xxx"u8.ToArray(); // redis-benchmark's default 3-byte payload
    for (var worker = 0; worker < callers; worker++)
    {
        await client.SetAsync($"bench:{worker}", value);
    }

    GC.Collect();
    var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
    var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
    var stopwatch = Stopwatch.StartNew();
    var deadline = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
    var workers = Enumerable.Range(0, callers).Select(worker => Task.Run(async () =>
    {
        var key = $"bench:{worker}";
        long operations = 0;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            for (var i = 0; i < 100; i++)
            {
                if (command == "SET")
                {
                    await client.SetAsync(key, value);
                }
                else
                {
                    await client.GetAsync(key);
                }
            }

            operations += 100;
        }

        return operations;
    })).ToArray();

    var total = (await Task.WhenAll(workers)).Sum();
    var elapsed = stopwatch.Elapsed;
    var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
    var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
    return (total / elapsed.TotalSeconds, (double)allocated / total, cpu.TotalMicroseconds / total);
}

static IEnumerable<(string Test, double RequestsPerSecond)> RunRedisBenchmark(string host, int port, int clients, int pipeline, int requests)
{
    var startInfo = new ProcessStartInfo("redis-benchmark")
    {
        RedirectStandardOutput = true,
        RedirectStandardError = true,
        UseShellExecute = false,
    };
    foreach (var arg in new[]
             {
                 "-h", host, "-p", port.ToString(CultureInfo.InvariantCulture), "-t", "set,get",
                 "-n", requests.ToString(CultureInfo.InvariantCulture), "-c", clients.ToString(CultureInfo.InvariantCulture),
                 "-P", pipeline.ToString(CultureInfo.InvariantCulture), "--csv",
             })
    {
        startInfo.ArgumentList.Add(arg);
    }

    using var process = Process.Start(startInfo) ?? throw new InvalidOperationException("Could not start redis-benchmark.");
    var output = process.StandardOutput.ReadToEnd();
    process.WaitForExit();
    if (process.ExitCode != 0)
    {
        throw new InvalidOperationException($"redis-benchmark failed: {process.StandardError.ReadToEnd()}");
    }

    // CSV: "test","rps","avg_latency_ms",... with one row per test.
    foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Skip(1))
    {
        var fields = line.Split(',').Select(f => f.Trim('"')).ToArray();
        yield return (fields[0], double.Parse(fields[1], CultureInfo.InvariantCulture));
    }
}

static string Ratio(double value, double baseline) =>
    baseline > 0 ? (value / baseline).ToString("P0", CultureInfo.InvariantCulture) : "n/a";

static (string Host, int Port) SplitEndpoint(string endpoint)
{
    var colon = endpoint.LastIndexOf(':');
    return colon < 0 ? (endpoint, 6379) : (endpoint[..colon], int.Parse(endpoint[(colon + 1)..], CultureInfo.InvariantCulture));
}

static Dictionary<string, string> ParseArguments(string[] args)
{
    var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
    for (var i = 0; i + 1 < args.Length; i += 2)
    {
        result[args[i].TrimStart('-')] = args[i + 1];
    }

    return result;
}
