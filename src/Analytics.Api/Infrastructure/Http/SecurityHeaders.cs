namespace Analytics.Api.Infrastructure.Http;

/// <summary>
/// Headers every answer carries, errors included (they are added as the response starts, after any handler
/// has cleared it): no MIME sniffing, no framing of the HTML pages (clickjacking of the activation button),
/// no Referer leaking an activation token from the page's address, and no caching of what an endpoint answers
/// (tokens, personal data) by browsers or proxies unless the endpoint says otherwise (the live stream does);
/// static files (the API reference's script) keep their caching.
/// </summary>
internal sealed class SecurityHeaders(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        context.Response.OnStarting(static state =>
        {
            var http = (HttpContext)state;
            var headers = http.Response.Headers;
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            headers.ContentSecurityPolicy = "frame-ancestors 'none'";
            headers["Referrer-Policy"] = "no-referrer";
            if (headers.CacheControl.Count == 0 && http.GetEndpoint() is not null)
            {
                headers.CacheControl = "no-store";
            }

            return Task.CompletedTask;
        }, context);
        return next(context);
    }
}
