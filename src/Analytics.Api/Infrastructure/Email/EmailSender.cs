namespace Analytics.Api.Infrastructure.Email;

/// <summary>Delivers one e-mail; throws when it could not, so the dispatcher retries later.</summary>
public interface IEmailSender
{
    Task SendAsync(OutgoingEmail email, CancellationToken ct);
}

/// <summary>
/// The default "simulated e-mail": logs that a mail went out, never its body (it carries activation secrets).
/// The bodies stay readable in the outbox table and, in Development, at <c>GET /dev/mailbox?to=</c>.
/// </summary>
internal sealed partial class LoggingEmailSender(ILogger<LoggingEmailSender> logger) : IEmailSender
{
    public Task SendAsync(OutgoingEmail email, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(email);
        LogSimulated(email.To, email.Subject);
        return Task.CompletedTask;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Simulated e-mail to {To}: {Subject}")]
    private partial void LogSimulated(string to, string subject);
}
