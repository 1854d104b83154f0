using System.Net;
using System.Net.Http.Json;
using System.Text;
using Analytics.Api.Infrastructure.Http;
using Analytics.Api.Infrastructure.Pipeline;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Logging;

namespace Analytics.Api.Tests.Infrastructure.Errors;

/// <summary>
/// The service's real HTTP pipeline (AddHttpApi/UseHttpApi and the MediatR behaviours) around one probe
/// endpoint that takes a JSON body, so every kind of bad request can be sent before any feature exists.
/// </summary>
public sealed class ProblemDetailsTests : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly HttpClient _client;
    private readonly CapturingLoggerProvider _logs = new();

    public ProblemDetailsTests()
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
        builder.WebHost.UseTestServer();
        builder.Configuration["Api:MaxRequestBodyBytes"] = "1024";
        builder.AddHttpApi();
        builder.Logging.AddProvider(_logs);
        builder.Services.AddPipeline(typeof(Probe).Assembly);
        _app = builder.Build();
        _app.UseHttpApi();
        Probe.Map(_app);
        _app.StartAsync().GetAwaiter().GetResult();
        _client = _app.GetTestClient();
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _app.DisposeAsync();
    }

    private Task<HttpResponseMessage> PostRawAsync(string body, string contentType = "application/json") =>
        _client.PostAsync(new Uri("/probe", UriKind.Relative), new StringContent(body, Encoding.UTF8, contentType));

    [Fact]
    public async Task Valid_body_reaches_the_handler()
    {
        var response = await _client.PostAsJsonAsync(new Uri("/probe", UriKind.Relative), new { name = "ok", age = 30, at = "2026-01-02T03:04:05+02:00" });

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync()).ShouldBe("""{"greeting":"hello ok","at":"2026-01-02T01:04:05.000Z","kind":"page_view"}""");
    }

    [Fact]
    public async Task Malformed_json_returns_400_problem()
    {
        var body = await (await PostRawAsync("{\"name\": \"x\",")).ShouldBeProblemAsync(HttpStatusCode.BadRequest);

        body.GetProperty("title").GetString().ShouldBe("The request body is not valid JSON.");
    }

    [Fact]
    public async Task Wrong_value_type_returns_400_naming_the_field()
    {
        var body = await (await PostRawAsync("""{"name":"x","age":"thirty"}""")).ShouldBeProblemAsync(HttpStatusCode.BadRequest);

        body.GetProperty("detail").GetString().ShouldBe("The value at '$.age' has the wrong type or format.");
        body.GetProperty("errors").GetProperty("age")[0].GetString().ShouldBe("'age' has the wrong type or format.");
    }

    [Fact]
    public async Task A_value_a_converter_refuses_is_a_field_error_with_the_converters_reason()
    {
        var body = await (await PostRawAsync("""{"name":"x","at":"yesterday"}""")).ShouldBeProblemAsync(HttpStatusCode.BadRequest);

        body.GetProperty("detail").GetString().ShouldBe("The value at '$.at' has the wrong type or format.");
        body.GetProperty("errors").GetProperty("at")[0].GetString()!.ShouldContain("ISO-8601");
    }

    [Fact]
    public async Task Unknown_enum_value_returns_400_naming_the_field()
    {
        var body = await (await PostRawAsync("""{"name":"x","kind":"nonsense"}""")).ShouldBeProblemAsync(HttpStatusCode.BadRequest);

        body.GetProperty("detail").GetString()!.ShouldContain("$.kind");
    }

    [Fact]
    public async Task Missing_body_returns_400_problem()
    {
        var response = await _client.PostAsync(new Uri("/probe", UriKind.Relative), new ByteArrayContent([]) { Headers = { ContentType = new("application/json") } });

        var body = await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest);
        body.GetProperty("title").GetString().ShouldBe("The request body is missing.");
    }

    [Fact]
    public async Task Wrong_content_type_returns_415_problem()
    {
        var body = await (await PostRawAsync("name=x", "application/x-www-form-urlencoded")).ShouldBeProblemAsync(HttpStatusCode.UnsupportedMediaType);

        body.GetProperty("detail").GetString()!.ShouldContain("application/json");
    }

    [Fact]
    public async Task Body_over_the_configured_limit_returns_413_problem_without_reaching_the_handler()
    {
        Probe.Calls = 0;
        var body = await (await PostRawAsync($$"""{"name":"{{new string('x', 2000)}}"}""")).ShouldBeProblemAsync(HttpStatusCode.RequestEntityTooLarge);

        body.GetProperty("detail").GetString()!.ShouldContain("1024");
        Probe.Calls.ShouldBe(0);
    }

    [Fact]
    public async Task Invalid_command_returns_400_validation_problem_with_field_errors()
    {
        var response = await _client.PostAsJsonAsync(new Uri("/probe", UriKind.Relative), new { name = "", age = -1 });

        var body = await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest);
        var errors = body.GetProperty("errors");
        errors.GetProperty("name")[0].GetString().ShouldBe("Name is required.");
        errors.GetProperty("age")[0].GetString().ShouldBe("Age must be between 0 and 150.");
    }

    [Fact]
    public async Task Unexpected_exception_returns_500_problem_without_internals()
    {
        var response = await _client.PostAsJsonAsync(new Uri("/probe", UriKind.Relative), new { name = "boom" });

        var body = await response.ShouldBeProblemAsync(HttpStatusCode.InternalServerError);
        var text = body.GetRawText();
        text.ShouldNotContain("secret internals");
        text.ShouldNotContain("InvalidOperationException");
        text.ShouldNotContain(" at ");
    }

    [Fact]
    public async Task The_traceId_of_a_500_names_its_logged_error()
    {
        var response = await _client.PostAsJsonAsync(new Uri("/probe", UriKind.Relative), new { name = "boom" });

        var traceId = (await response.ShouldBeProblemAsync(HttpStatusCode.InternalServerError)).GetProperty("traceId").GetString()!;
        var logged = _logs.Lines.Where(l => l.Contains("Unhandled exception for POST /probe", StringComparison.Ordinal)).ShouldHaveSingleItem();
        logged.ShouldContain($"(traceId {traceId})");
        logged.ShouldContain("secret internals");
    }

    [Fact]
    public async Task Unknown_route_returns_404_problem()
    {
        var body = await (await _client.GetAsync(new Uri("/no/such/thing", UriKind.Relative))).ShouldBeProblemAsync(HttpStatusCode.NotFound);

        body.GetProperty("detail").GetString()!.ShouldContain("/no/such/thing");
    }

    [Fact]
    public async Task Wrong_method_returns_405_problem_with_allow_header()
    {
        var response = await _client.DeleteAsync(new Uri("/probe", UriKind.Relative));

        await response.ShouldBeProblemAsync(HttpStatusCode.MethodNotAllowed);
        response.Content.Headers.Allow.ShouldContain("POST");
    }
}

public static class Probe
{
    private static int _calls;

    public static int Calls { get => Volatile.Read(ref _calls); set => Volatile.Write(ref _calls, value); }

    public enum Kind
    {
        PageView,
        FeatureClick,
    }

    public sealed record Command(string Name, int? Age, DateTimeOffset? At, Kind Kind = Kind.PageView) : IRequest<Response>;

    public sealed record Response(string Greeting, DateTimeOffset? At, Kind Kind);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(c => c.Name).NotEmpty().WithMessage("Name is required.");
            RuleFor(c => c.Age).InclusiveBetween(0, 150).WithMessage("Age must be between 0 and 150.");
        }
    }

    internal sealed class Handler : IRequestHandler<Command, Response>
    {
        public Task<Response> Handle(Command request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _calls);
            return request.Name == "boom"
                ? throw new InvalidOperationException("secret internals")
                : Task.FromResult(new Response($"hello {request.Name}", request.At, request.Kind));
        }
    }

    public static void Map(IEndpointRouteBuilder app) =>
        app.MapPost("/probe", async Task<Ok<Response>> (Command command, IMediator mediator, CancellationToken ct) => TypedResults.Ok(await mediator.Send(command, ct)));
}
