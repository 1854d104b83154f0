using Dapper;
using Npgsql;

namespace Analytics.Api.Infrastructure.Email;

/// <summary>An e-mail to send, written in the same transaction as the change it reports (ARCHITECTURE.md, E-mail).</summary>
public sealed record OutgoingEmail(string To, string Subject, string Body);

public static class Outbox
{
    private const string InsertSql = """
        insert into outbox (recipient, subject, body, created_at)
        values (@To, @Subject, @Body, @Now)
        """;

    public static Task EnqueueAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, OutgoingEmail email, DateTimeOffset now, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(email);
        return connection.ExecuteAsync(new CommandDefinition(InsertSql, new { email.To, email.Subject, email.Body, Now = now }, transaction, cancellationToken: ct));
    }
}
