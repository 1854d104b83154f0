using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Analytics.Api.Tests.Infrastructure;

/// <summary>A redis-server of one test's own on a free loopback port (tests may pause it or start it late).</summary>
public sealed class PrivateRedis : IDisposable
{
    private Process? _server;

    public int Port { get; } = Analytics.Tests.Shared.LoopbackPort.Next();

    public string ConnectionString => $"127.0.0.1:{Port},connectTimeout=200";

    /// <summary>Starts the server and returns once it accepts connections.</summary>
    public async Task StartAsync()
    {
        var start = new ProcessStartInfo("redis-server") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in (string[])["--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        {
            start.ArgumentList.Add(arg);
        }

        _server = Process.Start(start)!;
        _server.OutputDataReceived += (_, _) => { };
        _server.ErrorDataReceived += (_, _) => { };
        _server.BeginOutputReadLine();
        _server.BeginErrorReadLine();
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, Port, patience.Token);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(50, patience.Token);
            }
        }
    }

    public Task<Analytics.Redis.RedisClient> ConnectAsync() => Analytics.Redis.RedisClient.ConnectAsync($"127.0.0.1:{Port}");

    public void Dispose()
    {
        if (_server is { HasExited: false })
        {
            _server.Kill();
            _server.WaitForExit();
        }

        _server?.Dispose();
        _server = null;
    }
}
