namespace Analytics.Api.Infrastructure.OpenApi;

public static class EndpointErrorMetadata
{
    /// <summary>Declares the ProblemDetails answers of an endpoint in the OpenAPI document (400 as a ValidationProblem with field errors).</summary>
    public static RouteHandlerBuilder ProducesErrors(this RouteHandlerBuilder builder, params int[] statuses)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(statuses);
        foreach (var status in statuses)
        {
            builder = status == StatusCodes.Status400BadRequest ? builder.ProducesValidationProblem() : builder.ProducesProblem(status);
        }

        return builder;
    }
}
