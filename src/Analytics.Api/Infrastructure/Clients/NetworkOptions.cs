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
            options.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            options.KnownProxies.Clear();
            options.KnownIPNetworks.Clear();
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
