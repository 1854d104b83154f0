using System.Reflection;
using FluentValidation;
using MediatR;

namespace Analytics.Api.Infrastructure.Pipeline;

public static class PipelineServiceCollectionExtensions
{
    private static readonly Type[] HandlerInterfaces = [typeof(IRequestHandler<,>), typeof(INotificationHandler<>)];

    /// <summary>MediatR 5 has no DI package: register the mediator, every handler and validator of <paramref name="assembly"/>, and the behaviours.</summary>
    public static IServiceCollection AddPipeline(this IServiceCollection services, Assembly assembly)
    {
        // The mediator and its service factory are transient (stateless, nothing to dispose: the request scope does not
        // track them) and resolve handlers from the scope they were resolved in; the behaviours are stateless
        // singletons. Every scoped service a request resolves is an entry in its scope's dictionary: fewer of them
        // spared the cached dashboard ~1 KB of allocations per request (ADR 11 amendment). Resolve IMediator only from a
        // scope (endpoints, hubs, jobs and commands do): a singleton holding one would resolve handlers from the root.
        services.AddTransient<ServiceFactory>(sp => sp.GetService!);
        services.AddTransient<IMediator, Mediator>();

        foreach (var type in assembly.GetTypes().Where(t => t is { IsAbstract: false, IsGenericTypeDefinition: false }))
        {
            foreach (var contract in type.GetInterfaces().Where(i => i.IsGenericType && HandlerInterfaces.Contains(i.GetGenericTypeDefinition())))
            {
                services.AddScoped(contract, type);
            }
        }

        foreach (var result in AssemblyScanner.FindValidatorsInAssembly(assembly, includeInternalTypes: true))
        {
            services.AddSingleton(result.InterfaceType, result.ValidatorType);
        }

        // Order matters: logging sees validation failures too.
        services.AddSingleton(typeof(IPipelineBehavior<,>), typeof(LoggingBehavior<,>));
        services.AddSingleton(typeof(IPipelineBehavior<,>), typeof(ValidationBehavior<,>));
        return services;
    }
}
