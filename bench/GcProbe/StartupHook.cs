using System.Globalization;

/// <summary>
/// Loaded into the API with DOTNET_STARTUP_HOOKS (no change to the service): every 200 ms writes the process's GC
/// counts to the file named by BENCH_GC_FILE, as one line "gen0 gen1 gen2 allocatedBytes pauseMs heapBytes",
/// so the harness can take deltas per scenario (dotnet-counters does not restore here).
/// </summary>
internal static class StartupHook
{
    public static void Initialize()
    {
        var path = Environment.GetEnvironmentVariable("BENCH_GC_FILE");
        if (string.IsNullOrEmpty(path))
        {
            return;
        }

        var thread = new Thread(() =>
        {
            var temp = path + ".tmp";
            while (true)
            {
                var line = string.Create(CultureInfo.InvariantCulture,
                    $"{GC.CollectionCount(0)} {GC.CollectionCount(1)} {GC.CollectionCount(2)} {GC.GetTotalAllocatedBytes()} {GC.GetTotalPauseDuration().TotalMilliseconds:F1} {GC.GetTotalMemory(false)}\n");
                File.WriteAllText(temp, line);
                File.Move(temp, path, overwrite: true);
                Thread.Sleep(200);
            }
        })
        { IsBackground = true, Name = "bench-gc-probe" };
        thread.Start();
    }
}
