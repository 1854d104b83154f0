using System.Net;
using System.Text.Json;
using Analytics.Api.Infrastructure.Clients;
using Dapper;
using Npgsql;

namespace Analytics.Api.Infrastructure.Activity;

/// <summary>What happened to an account. Stored as snake_case text in <c>activity_log.kind</c>.</summary>
public enum ActivityKind
{
    Registered,
    Activated,
    Login,
    LoginFailed,
    LoginThrottled,
    AccountLocked,
    Logout,
    Refresh,
    TokenReuseDetected,
    SessionRevoked,
    ProfileUpdated,
    PasswordChanged,
    PasswordChangeFailed,
    RoleChanged,
    StatusChanged,
    AccountUnlocked,

    /// <summary>In an admin's own log: they changed another account (its own log has the change, without their address).</summary>
    UserUpdated,
}

/// <summary>One activity entry; <paramref name="Details"/> is stored as JSON and must never hold secrets.</summary>
public sealed record ActivityEntry(Guid? UserId, ActivityKind Kind, IPAddress? Ip, string? UserAgent, object? Details = null)
{
    public static ActivityEntry For(Guid? userId, ActivityKind kind, ClientContext client, object? details = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        return new(userId, kind, client.Ip, client.UserAgent, details);
    }
}

/// <summary>Writes activity entries inside the caller's transaction, so an entry exists exactly when its change does.</summary>
public static class ActivityLog
{
    /// <summary>One entry; its parameters: UserId, Kind (<see cref="KindName"/>), Now, Ip, UserAgent, Details (<see cref="DetailsJson"/>).</summary>
    internal const string InsertSql = """
        insert into activity_log (user_id, kind, occurred_at, ip, user_agent, details)
        values (@UserId, @Kind, @Now, @Ip, @UserAgent, @Details::jsonb)
        """;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static string KindName(ActivityKind kind) => JsonNamingPolicy.SnakeCaseLower.ConvertName(kind.ToString());

    public static string DetailsJson(ActivityEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return JsonSerializer.Serialize(entry.Details ?? new { }, Json);
    }

    public static Task WriteAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, ActivityEntry entry, DateTimeOffset now, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(entry);
        return connection.ExecuteAsync(new CommandDefinition(
            InsertSql,
            new
            {
                entry.UserId,
                Kind = KindName(entry.Kind),
                Now = now,
                entry.Ip,
                entry.UserAgent,
                Details = DetailsJson(entry),
            },
            transaction,
            cancellationToken: ct));
    }
}
