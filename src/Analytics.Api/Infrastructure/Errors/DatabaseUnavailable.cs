using Microsoft.AspNetCore.Mvc;
using Npgsql;

namespace Analytics.Api.Infrastructure.Errors;

/// <summary>
/// PostgreSQL could not serve the request (refused or dropped connections, a read that timed out, an exhausted pool,
/// an error PostgreSQL itself classes as transient, such as a deadlock or a shutdown): a 503 with Retry-After, also
/// when it was a signed-in request's session check that could not run (the JWT handler rethrows what its events
/// throw). A client can retry; a 500 would say that the request broke something, and a 401 would make clients sign
/// their users out.
/// </summary>
public static class DatabaseUnavailable
{
    public const int RetryAfterSeconds = 5;

    /// <summary>The Retry-After header of every 503 the exception handler writes.</summary>
    public static readonly string RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static bool IsCause(Exception? exception) => exception is NpgsqlException { IsTransient: true };

    public static ProblemDetails Problem() => new()
    {
        Status = StatusCodes.Status503ServiceUnavailable,
        Title = "The database is unavailable.",
        Detail = $"The database could not complete the request right now; retry in {RetryAfterSeconds} seconds.",
    };
}
