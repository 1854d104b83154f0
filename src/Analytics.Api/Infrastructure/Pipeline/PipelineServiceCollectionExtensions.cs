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
        services.AddScoped<ServiceFactory>(sp => sp.GetService!);
        services.AddScoped<IMediator, Mediator>();

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
        services.AddScoped(typeof(IPipelineBehavior<,>), typeof(LoggingBehavior<,>));
        services.AddScoped(typeof(IPipelineBehavior<,>), typeof(ValidationBehavior<,>));
        return services;
    }
}
