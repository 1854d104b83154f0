using Microsoft.AspNetCore.Http.HttpResults;

namespace Analytics.Api.Infrastructure.OpenApi;

/// <summary>
/// The Scalar API reference, from the npm bundle that <c>web/</c> builds into <c>wwwroot/scalar/</c>.
/// When the bundle was not built, the page says how to build it instead of failing.
/// </summary>
internal static class ScalarPage
{
    private const string BundlePath = "scalar/standalone.js";

    private const string Page = """
        <!doctype html>
        <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <title>Analytics API reference</title>
        </head>
        <body>
          <script id="api-reference" data-url="/openapi/v1.json"></script>
          <script src="/scalar/standalone.js"></script>
        </body>
        </html>
        """;

    private const string NotBuiltPage = """
        <!doctype html>
        <html lang="en">
        <head><meta charset="utf-8" /><title>Analytics API reference (not built)</title></head>
        <body>
          <h1>The API reference bundle is not built</h1>
          <p>Build it with <code>npm ci --prefix web &amp;&amp; npm run build --prefix web</code>
          (the run script does this for you), then reload this page.</p>
          <p>The OpenAPI document itself is at <a href="/openapi/v1.json">/openapi/v1.json</a>.</p>
        </body>
        </html>
        """;

    public static ContentHttpResult Render(IWebHostEnvironment environment) =>
        environment.WebRootFileProvider.GetFileInfo(BundlePath).Exists
            ? TypedResults.Content(Page, "text/html; charset=utf-8")
            : TypedResults.Content(NotBuiltPage, "text/html; charset=utf-8");
}
