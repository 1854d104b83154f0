using System.Diagnostics;
using MediatR;

namespace Analytics.Api.Infrastructure.Pipeline;

/// <summary>
/// Logs each request's name, outcome and duration. Never the request itself: commands carry passwords and tokens.
/// </summary>
internal sealed partial class LoggingBehavior<TRequest, TResponse>(ILogger<LoggingBehavior<TRequest, TResponse>> logger) : IPipelineBehavior<TRequest, TResponse>
{
    private static readonly string RequestName = Describe(typeof(TRequest));

    public async Task<TResponse> Handle(TRequest request, CancellationToken cancellationToken, RequestHandlerDelegate<TResponse> next)
    {
        ArgumentNullException.ThrowIfNull(next);
        var started = Stopwatch.GetTimestamp();
        try
        {
            var response = await next();
            var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            LogCompleted(RequestName, response is IHasOutcome described ? described.Outcome : "ok", elapsed);
            return response;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The caller left (a closed connection, a client timeout): routine, not a warning.
            var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            LogAbandoned(RequestName, elapsed);
            throw;
        }
        catch (Exception ex)
        {
            var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            LogFailed(RequestName, ex.GetType().Name, elapsed);
            throw;
        }
    }

    // Features are nested types (Register.Command): "Register.Command" says more than "Command".
    private static string Describe(Type type) => type.DeclaringType is null ? type.Name : $"{type.DeclaringType.Name}.{type.Name}";

    [LoggerMessage(Level = LogLevel.Information, Message = "{Request} {Outcome} in {ElapsedMs:0.0} ms")]
    private partial void LogCompleted(string request, string outcome, double elapsedMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Request} abandoned by its caller after {ElapsedMs:0.0} ms")]
    private partial void LogAbandoned(string request, double elapsedMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Request} threw {Exception} after {ElapsedMs:0.0} ms")]
    private partial void LogFailed(string request, string exception, double elapsedMs);
}

/// <summary>A response that can say in one word how the request went (e.g. a result's error code), for the log.</summary>
public interface IHasOutcome
{
    string Outcome { get; }
}
