using System.Net;
using System.Net.Sockets;

namespace Analytics.Tests.Shared;

/// <summary>
/// A free port on 127.0.0.1 for a server a test starts itself, chosen below the kernel's ephemeral range: a port in
/// that range can be taken by any outgoing connection between this check and the server's bind (the same rule as
/// <c>free_port</c> in scripts/lib/services.sh). No port is handed out twice by one process.
/// </summary>
public static class LoopbackPort
{
    private const int Lowest = 10_000;
    private static readonly HashSet<int> HandedOut = [];

    public static int Next()
    {
        var below = EphemeralLow();
        lock (HandedOut)
        {
            for (var attempt = 0; attempt < 500; attempt++)
            {
                var port = Random.Shared.Next(Lowest, below);
                if (!HandedOut.Contains(port) && CanBind(port))
                {
                    HandedOut.Add(port);
                    return port;
                }
            }
        }

        throw new InvalidOperationException($"No free port on 127.0.0.1 between {Lowest} and {below}.");
    }

    private static bool CanBind(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static int EphemeralLow()
    {
        try
        {
            var low = int.Parse(File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[0], System.Globalization.CultureInfo.InvariantCulture);
            return low > Lowest + 1_000 ? low : 32_768;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 32_768;
        }
    }
}
