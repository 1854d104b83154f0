using Dapper;
using Npgsql;

namespace Analytics.Api.Infrastructure.Database;

/// <summary>
/// The row lock that puts changes to one account in a line (password, API keys, role and status). It is
/// <c>FOR NO KEY UPDATE</c>, never <c>FOR UPDATE</c>: the two exclude each other alike, but FOR UPDATE also blocks the
/// foreign-key check of every row that merely references the account, so a refresh or sign-out holding its session
/// row and writing the account's activity entry waited for the account while the change waited for that session:
/// a deadlock, one side aborted with a 503.
/// </summary>
internal static class AccountLock
{
    /// <summary>The clause the account-locking selects end with.</summary>
    public const string Clause = "for no key update";

    public static Task LockAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid userId, CancellationToken ct) =>
        connection.ExecuteAsync(new CommandDefinition($"select 1 from users where id = @userId {Clause}", new { userId }, transaction, cancellationToken: ct));
}
