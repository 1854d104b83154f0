using System.Text.Json;
using FluentValidation;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace Analytics.Api.Infrastructure.Errors;

/// <summary>
/// Turns every exception that escapes an endpoint into a ProblemDetails: validation failures into a 400
/// with field errors, bad requests (malformed JSON, wrong content type, oversized body) and values PostgreSQL refuses
/// (<see cref="UnstorableValue"/>) into their 4xx, a database
/// that could not serve the request into a 503 with Retry-After (<see cref="DatabaseUnavailable"/>), and anything
/// else into a 500 that carries only the trace id.
/// </summary>
internal sealed partial class ProblemExceptionHandler(IProblemDetailsService problems, ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is OperationCanceledException && httpContext.RequestAborted.IsCancellationRequested)
        {
            // The client went away; there is nobody to answer.
            return true;
        }

        var problem = exception switch
        {
            ValidationException validation => Validation(validation),
            BadHttpRequestException badRequest => BadRequest(badRequest),
            Features.Events.TrackEvent.EventStoreUnavailableException => new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "Events could not be stored.",
                Detail = "The event store is unavailable right now; nothing was stored. Retry with the same event ids.",
            },
            _ when DatabaseUnavailable.IsCause(exception) => Unavailable(exception, httpContext),
            _ when UnstorableValue.Cause(exception) is { } refused => Refused(refused, httpContext),
            _ => null,
        };

        if (problem is null)
        {
            LogUnexpected(exception, httpContext.Request.Method, httpContext.Request.Path, TraceId(httpContext));
            problem = new ProblemDetails
            {
                Status = StatusCodes.Status500InternalServerError,
                Title = "An unexpected error occurred.",
                Detail = "The error was logged; quote the traceId when reporting it.",
            };
        }

        httpContext.Response.StatusCode = problem.Status!.Value;
        if (problem.Status == StatusCodes.Status503ServiceUnavailable)
        {
            // Both 503s (the database could not serve the request, the events could not be stored) pass: retry soon.
            httpContext.Response.Headers.RetryAfter = DatabaseUnavailable.RetryAfter;
        }

        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            ProblemDetails = problem,
            Exception = exception,
        });
    }

    private ProblemDetails Unavailable(Exception exception, HttpContext http)
    {
        LogDatabaseUnavailable(exception, http.Request.Method, http.Request.Path, TraceId(http));
        return DatabaseUnavailable.Problem();
    }

    // Logged (a warning): a value the client sent is the usual cause, but an overflow of the service's own making
    // would otherwise go unseen.
    private ProblemDetails Refused(Npgsql.PostgresException refused, HttpContext http)
    {
        LogValueRefused(refused.SqlState, refused.MessageText, http.Request.Method, http.Request.Path, TraceId(http));
        return UnstorableValue.Problem(refused);
    }

    // The id the ProblemDetails body carries as traceId (ASP.NET Core's own choice): the logged error names it too,
    // so a client quoting it finds the one line (the console logger writes no scopes by default).
    private static string TraceId(HttpContext http) => System.Diagnostics.Activity.Current?.Id ?? http.TraceIdentifier;

    private static HttpValidationProblemDetails Validation(ValidationException exception) => FieldProblem(FieldErrors.From(exception.Errors));

    private static HttpValidationProblemDetails FieldProblem(IDictionary<string, string[]> errors, string detail = "See errors for what is wrong with each field.") =>
        new(errors)
        {
            Status = StatusCodes.Status400BadRequest,
            Title = "One or more validation errors occurred.",
            Detail = detail,
        };

    private static ProblemDetails BadRequest(BadHttpRequestException exception)
    {
        if (ParameterError(exception.Message) is { } field)
        {
            // A query or route value that does not convert: a field error like the validators', under the parameter's
            // name (what the OpenAPI document declares for every 400), not the framework's "int? limit".
            return FieldProblem(new Dictionary<string, string[]> { [field.Name] = [field.Message] });
        }

        if (exception.InnerException is JsonException refused && BodyFieldError(refused) is { } bodyField)
        {
            // Well-formed JSON with a value of the wrong type or format: a field error under the property's path, as
            // the validators' errors are (a form can show it beside its field).
            return FieldProblem(new Dictionary<string, string[]> { [bodyField.Name] = [bodyField.Message] }, DescribeJsonError(refused));
        }

        var status = exception.StatusCode;
        var (title, detail) = status switch
        {
            StatusCodes.Status413PayloadTooLarge => ("The request body is too large.", exception.Message),
            StatusCodes.Status415UnsupportedMediaType => ("Unsupported content type.", "Send the body as JSON with 'Content-Type: application/json'."),
            _ when exception.InnerException is JsonException json => ("The request body is not valid JSON.", DescribeJsonError(json)),
            _ when exception.Message.Contains("no body was provided", StringComparison.Ordinal) => ("The request body is missing.", "This endpoint needs a JSON body."),
            _ => ("The request is not valid.", exception.Message)
        };
        return new ProblemDetails { Status = status, Title = title, Detail = detail };
    }

    // ASP.NET Core's messages for a parameter it could not bind: 'Failed to bind parameter "int? limit" from "abc".' and
    // 'Required parameter "int limit" was not provided from query string.' Any other wording stays a plain 400.
    internal static (string Name, string Message)? ParameterError(string message)
    {
        if (UnboundParameter().Match(message) is { Success: true } unbound)
        {
            var value = unbound.Groups["value"].Value;
            var shown = value.Length > 100 ? value[..100] + "..." : value;
            return (unbound.Groups["name"].Value, $"'{shown}' is not {Expected(unbound.Groups["type"].Value)}.");
        }

        return MissingParameter().Match(message) is { Success: true } missing
            ? (missing.Groups["name"].Value, $"{missing.Groups["name"].Value} is required.")
            : null;
    }

    private static string Expected(string type) => Known(type.StartsWith("Nullable<", StringComparison.Ordinal) ? type[9..^1] : type.TrimEnd('?')) ?? "a valid value";

    private static string? Known(string type) => type switch
    {
        "int" or "long" or "short" or "Int32" or "Int64" or "Int16" => "a whole number in range",
        "double" or "decimal" or "float" or "Double" or "Decimal" or "Single" => "a number",
        "DateTimeOffset" or "DateTime" => "a date and time (ISO 8601, e.g. 2026-11-01T00:00:00Z)",
        "DateOnly" => "a date (YYYY-MM-DD)",
        "Guid" => "a UUID",
        "bool" or "Boolean" => "true or false",
        "string" or "String" => "a string",
        _ => null,
    };

    [System.Text.RegularExpressions.GeneratedRegex("""^Failed to bind parameter "(?<type>[^"]+) (?<name>[^" ]+)" from "(?<value>.*)"\.$""", System.Text.RegularExpressions.RegexOptions.Singleline)]
    private static partial System.Text.RegularExpressions.Regex UnboundParameter();

    [System.Text.RegularExpressions.GeneratedRegex("""^Required parameter "(?<type>[^"]+) (?<name>[^" ]+)" was not provided""")]
    private static partial System.Text.RegularExpressions.Regex MissingParameter();

    // A value the serializer or a converter refused (the reader's syntax errors are a subclass, and a path of "$"
    // names no field): the property's path without "$." ("age", "events[3].occurredAt") and what it must be.
    private static (string Name, string Message)? BodyFieldError(JsonException exception)
    {
        if (exception.GetType() != typeof(JsonException) || exception.Path is not { Length: > 2 } path || !path.StartsWith("$.", StringComparison.Ordinal))
        {
            return null;
        }

        var name = path[2..];
        // A converter's own reason stands; System.Text.Json's names a type, the property's or (for a record's
        // constructor parameter) the record's, which says nothing to the client.
        var failure = ConversionFailure().Match(exception.Message);
        var message = !failure.Success ? exception.Message
            : Known(ShortTypeName(failure.Groups["type"].Value)) is { } expected ? $"'{name}' must be {expected}."
            : $"'{name}' has the wrong type or format.";
        return (name, message);
    }

    // System.Text.Json names the CLR type; say what the client sent wrong in its own terms:
    // "System.Nullable`1[System.Int32]" -> "Int32", "System.String" -> "String".
    private static string ShortTypeName(string clrName)
    {
        var type = clrName.StartsWith("System.Nullable`1[", StringComparison.Ordinal) ? clrName[18..] : clrName;
        type = type.TrimStart('[').Split([',', ']'])[0];
        return type[(type.LastIndexOf('.') + 1)..];
    }

    [System.Text.RegularExpressions.GeneratedRegex("""^The JSON value could not be converted to (?<type>\S+)\.( |$)""")]
    private static partial System.Text.RegularExpressions.Regex ConversionFailure();

    // Where in the body: a refused value by its path, a syntax error by its position.
    private static string DescribeJsonError(JsonException exception) =>
        exception.Path is { Length: > 1 } path && exception.GetType() == typeof(JsonException)
            ? $"The value at '{path}' has the wrong type or format."
            : exception.Path is { Length: > 1 } at ? $"Malformed JSON near '{at}' (line {exception.LineNumber + 1}, byte {exception.BytePositionInLine + 1})." : $"Malformed JSON at line {exception.LineNumber + 1}, byte {exception.BytePositionInLine + 1}.";

    [LoggerMessage(Level = LogLevel.Error, Message = "The database could not serve {Method} {Path} (traceId {TraceId}); answered 503")]
    private partial void LogDatabaseUnavailable(Exception exception, string method, string path, string traceId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "PostgreSQL refused a value of {Method} {Path} (SQLSTATE {SqlState}: {Reason}; traceId {TraceId}); answered 400")]
    private partial void LogValueRefused(string sqlState, string reason, string method, string path, string traceId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled exception for {Method} {Path} (traceId {TraceId})")]
    private partial void LogUnexpected(Exception exception, string method, string path, string traceId);
}
