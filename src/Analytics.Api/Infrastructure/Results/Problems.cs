using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Analytics.Api.Infrastructure.Results;

/// <summary>Turns an <see cref="Error"/> into a ProblemDetails answer (written by IProblemDetailsService, so it carries the trace id).</summary>
public static class Problems
{
    public static ProblemHttpResult From(Error error, HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(error);
        ArgumentNullException.ThrowIfNull(http);
        var headers = http.Response.Headers;
        if (error.RetryAfter is { } retryAfter)
        {
            headers.RetryAfter = Seconds(retryAfter);
        }

        if (error.RateLimit is { } limit)
        {
            headers["RateLimit-Limit"] = limit.Limit.ToString(CultureInfo.InvariantCulture);
            headers["RateLimit-Remaining"] = limit.Remaining.ToString(CultureInfo.InvariantCulture);
            headers["RateLimit-Reset"] = Seconds(limit.ResetAfter);
        }

        return TypedResults.Problem(
            title: error.Title,
            detail: error.Detail,
            statusCode: (int)error.Kind,
            extensions: new Dictionary<string, object?> { ["code"] = error.Code });
    }

    public static Results<Ok<T>, ProblemHttpResult> OkOrProblem<T>(this Result<T> result, HttpContext http) =>
        result.IsSuccess ? TypedResults.Ok(result.Value) : From(result.Error!, http);

    public static Results<Accepted<T>, ProblemHttpResult> AcceptedOrProblem<T>(this Result<T> result, HttpContext http) =>
        result.IsSuccess ? TypedResults.Accepted((string?)null, result.Value) : From(result.Error!, http);

    public static Results<NoContent, ProblemHttpResult> NoContentOrProblem<T>(this Result<T> result, HttpContext http) =>
        result.IsSuccess ? TypedResults.NoContent() : From(result.Error!, http);

    private static string Seconds(TimeSpan span) => Math.Max(1, (int)Math.Ceiling(span.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
}
