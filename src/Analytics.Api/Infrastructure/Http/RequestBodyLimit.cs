using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace Analytics.Api.Infrastructure.Http;

/// <summary>
/// Rejects a declared oversized body before it is read, and caps undeclared (chunked) ones where the server
/// supports it; both surface as a 413 ProblemDetails through the exception handler.
/// </summary>
internal sealed class RequestBodyLimit(RequestDelegate next, IOptions<ApiOptions> options)
{
    public Task InvokeAsync(HttpContext context)
    {
        var limit = options.Value.MaxRequestBodyBytes;
        if (context.Request.ContentLength > limit)
        {
            throw new BadHttpRequestException($"The body has {context.Request.ContentLength} bytes; at most {limit} are accepted.", StatusCodes.Status413PayloadTooLarge);
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
        {
            feature.MaxRequestBodySize = limit;
        }

        return next(context);
    }
}
