using System.Net;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

namespace Analytics.Api.Infrastructure.Clients;

public sealed class NetworkOptions
{
    public const string Section = "Network";

    /// <summary>Proxies (IPs or CIDR ranges) whose X-Forwarded-For is believed; from anyone else it is ignored.</summary>
    public string[] TrustedProxies { get; set; } = [];
}

public static class NetworkExtensions
{
    public static IServiceCollection AddTrustedProxies(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<NetworkOptions>().Bind(configuration.GetSection(NetworkOptions.Section));
        services.AddOptions<ForwardedHeadersOptions>().Configure<IOptions<NetworkOptions>>((options, networkOptions) =>
        {
            var network = networkOptions.Value;
            options.KnownProxies.Clear();
            options.KnownIPNetworks.Clear();

            // With no proxy listed the middleware would believe anyone's X-Forwarded-For: ignore the header instead.
            options.ForwardedHeaders = network.TrustedProxies.Length == 0 ? ForwardedHeaders.None : ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            foreach (var entry in network.TrustedProxies)
            {
                if (System.Net.IPNetwork.TryParse(entry, out var range))
                {
                    options.KnownIPNetworks.Add(range);
                }
                else if (IPAddress.TryParse(entry, out var address))
                {
                    options.KnownProxies.Add(address);
                }
                else
                {
                    throw new InvalidOperationException($"Network__TrustedProxies contains '{entry}', which is neither an IP address nor a CIDR range.");
                }
            }
        });
        return services;
    }
}
