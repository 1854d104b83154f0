using Analytics.Api.Infrastructure.Pipeline;
using MediatR;
using Microsoft.Extensions.Logging;

namespace Analytics.Api.Tests.Infrastructure.Pipeline;

/// <summary>A request its caller abandoned is routine (Information); any other exception is a warning.</summary>
public sealed class LoggingBehaviorTests
{
    [Fact]
    public async Task A_request_its_caller_abandoned_is_logged_as_information()
    {
        var logger = new Captured();
        using var caller = new CancellationTokenSource();
        await caller.CancelAsync();

        await Should.ThrowAsync<OperationCanceledException>(() =>
            new LoggingBehavior<Probe, string>(logger).Handle(new Probe(), caller.Token, () => throw new OperationCanceledException(caller.Token)));

        var (level, message) = logger.Entries.ShouldHaveSingleItem();
        level.ShouldBe(LogLevel.Information);
        message.ShouldStartWith("LoggingBehaviorTests.Probe abandoned by its caller after");
    }

    [Fact]
    public async Task A_cancellation_its_caller_did_not_ask_for_and_other_exceptions_are_warnings()
    {
        var logger = new Captured();
        var behavior = new LoggingBehavior<Probe, string>(logger);

        await Should.ThrowAsync<OperationCanceledException>(() => behavior.Handle(new Probe(), CancellationToken.None, () => throw new OperationCanceledException()));
        await Should.ThrowAsync<InvalidOperationException>(() => behavior.Handle(new Probe(), CancellationToken.None, () => throw new InvalidOperationException()));

        logger.Entries.Select(e => e.Level).ShouldBe([LogLevel.Warning, LogLevel.Warning]);
        logger.Entries.Select(e => e.Message.Split(" after ")[0])
            .ShouldBe(["LoggingBehaviorTests.Probe threw OperationCanceledException", "LoggingBehaviorTests.Probe threw InvalidOperationException"]);
    }

    public sealed record Probe : IRequest<string>;

    private sealed class Captured : ILogger<LoggingBehavior<Probe, string>>
    {
        public List<(LogLevel Level, string Message)> Entries { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Add((logLevel, formatter(state, exception)));
    }
}
