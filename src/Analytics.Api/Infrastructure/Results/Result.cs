using Analytics.Api.Infrastructure.Pipeline;

namespace Analytics.Api.Infrastructure.Results;

/// <summary>What kind of expected failure an <see cref="Error"/> is; each maps to one HTTP status.</summary>
public enum ErrorKind
{
    Invalid = 400,
    Unauthorized = 401,
    Forbidden = 403,
    NotFound = 404,
    Conflict = 409,
    Gone = 410,
    Locked = 423,
    TooManyRequests = 429,
}

/// <summary>
/// An expected failure: a result value, not an exception. <paramref name="Code"/> is a stable machine-readable
/// name (e.g. <c>account_pending</c>) that clients can switch on; <paramref name="RetryAfter"/> feeds the
/// Retry-After header of 423 and 429 answers.
/// </summary>
public sealed record Error(ErrorKind Kind, string Code, string Title, string Detail, TimeSpan? RetryAfter = null)
{
    /// <summary>The limit that refused a 429, for the RateLimit-* headers.</summary>
    public RateLimiting.RateLimitDecision? RateLimit { get; init; }

    public static Error NotFound(string what) => new(ErrorKind.NotFound, "not_found", $"{what} was not found.", $"There is no {what.ToLowerInvariant()} with that id that you can see.");
}

/// <summary>Either a value or an <see cref="Error"/>.</summary>
public readonly record struct Result<T> : IHasOutcome
{
    private Result(T? value, Error? error)
    {
        Value = value;
        Error = error;
    }

    public T? Value { get; }

    public Error? Error { get; }

    public bool IsSuccess => Error is null;

    public string Outcome => Error?.Code ?? "ok";

    public static implicit operator Result<T>(T value) => new(value, null);

    public static implicit operator Result<T>(Error error) => new(default, error);
}
