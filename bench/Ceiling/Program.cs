// The HTTP ceiling: the smallest Kestrel app that answers 200, run like the service (Production, Warning logs)
// and measured with the same wrk settings. GET / answers "ok"; POST / reads the body and answers 202.
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
var app = builder.Build();
app.MapGet("/", () => "ok");
app.MapPost("/", async (HttpRequest request) =>
{
    await request.Body.CopyToAsync(Stream.Null);
    return Results.Accepted();
});
await app.RunAsync();
