using System.Security.Cryptography;
using System.Text;
using Analytics.Api.Infrastructure.Email;
using Analytics.Api.Infrastructure.Security;
using Dapper;
using Npgsql;

namespace Analytics.Api.Features.Identity;

public sealed class ActivationOptions
{
    public const string Section = "Activation";

    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Wrong codes accepted per activation e-mail before the code stops working.</summary>
    public int MaxCodeAttempts { get; set; } = 5;

    /// <summary>Where the link in the e-mail points; the token is appended as <c>?token=</c>.</summary>
    public string LinkBaseUrl { get; set; } = "http://127.0.0.1:5080/activate";
}

/// <summary>
/// Writes an activation e-mail (a single-use link token and a 6-digit code, both stored hashed) to the outbox,
/// in the caller's transaction. Shared by Register and the resend endpoint.
/// </summary>
public static class ActivationMail
{
    private const string InsertTokenSql = """
        insert into activation_tokens (id, user_id, token_hash, code_hash, email, expires_at, created_at)
        values (@Id, @UserId, @TokenHash, @CodeHash, @NewEmail, @ExpiresAt, @Now)
        """;

    // A new mail supersedes the earlier ones: only the newest link and code work.
    private const string ExpireEarlierSql = "update activation_tokens set expires_at = @Now where user_id = @UserId and used_at is null and expires_at > @Now";

    /// <summary>
    /// Sends to <paramref name="email"/>. With <paramref name="isEmailChange"/>, the mail confirms a new address of an
    /// active account instead of activating a new one, and activation moves the account to that address.
    /// </summary>
    public static async Task SendAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid userId, string email, ActivationOptions options, DateTimeOffset now, CancellationToken ct, bool isEmailChange = false)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(options);
        var token = OpaqueTokens.New();
        var code = OpaqueTokens.NumericCode(6);
        await connection.ExecuteAsync(new CommandDefinition(ExpireEarlierSql, new { UserId = userId, Now = now }, transaction, cancellationToken: ct));
        await connection.ExecuteAsync(new CommandDefinition(
            InsertTokenSql,
            new { Id = Guid.CreateVersion7(), UserId = userId, TokenHash = OpaqueTokens.Hash(token), CodeHash = CodeHash(userId, code), NewEmail = isEmailChange ? email : null, ExpiresAt = now + options.TokenLifetime, Now = now },
            transaction,
            cancellationToken: ct));

        var link = $"{options.LinkBaseUrl}?token={Uri.EscapeDataString(token)}";
        var (subject, greeting) = isEmailChange
            ? ("Confirm your new e-mail address", "Confirm that this is your new e-mail address for Analytics.")
            : ("Activate your Analytics account", "Welcome to Analytics!");
        var body = $"""
            {greeting}

            Confirm by opening this link:
            {link}

            or by entering this code: {code}

            The link and the code expire in {options.TokenLifetime.TotalHours:0} hours. If this was not you, ignore this e-mail.
            """;
        await Outbox.EnqueueAsync(connection, transaction, new OutgoingEmail(email, subject, body), now, ct);
    }

    /// <summary>The code is only a million values: bind it to the user so a table of hashes cannot be reused across users.</summary>
    public static byte[] CodeHash(Guid userId, string code) => SHA256.HashData(Encoding.UTF8.GetBytes($"{userId:N}:{code}"));
}
