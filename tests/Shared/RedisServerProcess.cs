using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Analytics.Tests.Shared;

/// <summary>
/// A private redis-server on a free loopback port, which tests may start late, pause, kill and restart (shared by the
/// Redis client's tests and the API's).
/// </summary>
public sealed class RedisServerProcess : IAsyncDisposable
{
    private readonly string[] _extraArgs;
    private readonly string _directory;
    private Process? _process;

    /// <summary>Not started yet: <see cref="StartAsync()"/> starts it (a test may point a client at it first).</summary>
    public RedisServerProcess(params string[] extraArgs)
    {
        Port = LoopbackPort.Next();
        _extraArgs = extraArgs;
        _directory = Directory.CreateTempSubdirectory("redis-test-").FullName;
    }

    public int Port { get; }

    public string EndPoint => $"127.0.0.1:{Port}";

    public Task<Analytics.Redis.RedisClient> ConnectAsync() => Analytics.Redis.RedisClient.ConnectAsync(EndPoint);

    public static async Task<RedisServerProcess> StartAsync(params string[] extraArgs)
    {
        var server = new RedisServerProcess(extraArgs);
        await server.StartAsync();
        return server;
    }

    public async Task StartAsync()
    {
        var startInfo = new ProcessStartInfo("redis-server")
        {
            WorkingDirectory = _directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in (string[])["--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
                     "--save", "", "--appendonly", "no", "--dir", _directory, .. _extraArgs])
        {
            startInfo.ArgumentList.Add(arg);
        }

        _process = Process.Start(startInfo) ?? throw new InvalidOperationException("redis-server did not start.");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await WaitUntilListeningAsync();
    }

    /// <summary>Kills the server abruptly, as a crash would.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }

        _process?.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private async Task WaitUntilListeningAsync()
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException) when (deadline.Elapsed < TimeSpan.FromSeconds(10) && _process is { HasExited: false })
            {
                await Task.Delay(20);
            }
        }
    }
}
