using Analytics.Api.Infrastructure.Activity;
using Analytics.Api.Infrastructure.Security;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Analytics.Api.Features.Identity;

public sealed class AdminBootstrapOptions
{
    public const string Section = "Admin";

    public string? Email { get; set; }

    public string? Password { get; set; }
}

/// <summary>
/// The first admin, from <c>Admin__Email</c> / <c>Admin__Password</c>, created at start-up when no active admin
/// exists. An existing account with that e-mail is promoted, activated and given the configured password, and its
/// sessions, API keys and pending e-mail change are revoked, so whoever registered the address first does not become admin. Does nothing once an active admin exists.
/// </summary>
internal sealed partial class AdminBootstrap(NpgsqlDataSource db, IPasswordHasher hasher, PasswordPolicy policy, CommittedChanges committed, IOptions<AdminBootstrapOptions> options, TimeProvider clock, ILogger<AdminBootstrap> logger)
    : IHostedService
{
    private const string AnyAdminSql = "select exists (select 1 from users where role = 'admin' and status = 'active')";

    // With the account taken over, its sessions and API keys end: whoever held them (the address's first registrant)
    // must not refresh their way into the admin role or send events as it; nor may they confirm an e-mail change they
    // asked for, moving the admin account to their address (its mails' links and codes are spent). One batch, one
    // implicit transaction.
    private const string UpsertSql = """
        insert into users (id, email, password_hash, display_name, role, status, created_at, updated_at, activated_at)
        values (@Id, @Email, @Hash, 'Administrator', 'admin', 'active', @Now, @Now, @Now)
        on conflict (email) do update set role = 'admin', status = 'active', password_hash = excluded.password_hash,
            failed_logins = 0, locked_until = null, activated_at = coalesce(users.activated_at, @Now), updated_at = @Now,
            pending_email = null;
        update activation_tokens set used_at = @Now
        where user_id = (select id from users where email = @Email::citext) and used_at is null and created_at < @Now;
        update sessions set revoked_at = @Now, revoked_reason = 'admin_bootstrap'
        where user_id = (select id from users where email = @Email::citext) and revoked_at is null and created_at < @Now;
        update api_keys set revoked_at = @Now
        where user_id = (select id from users where email = @Email::citext) and revoked_at is null and created_at < @Now;
        select u.id, s.id
        from users u left join sessions s on s.user_id = u.id and s.revoked_at = @Now and s.revoked_reason = 'admin_bootstrap'
        where u.email = @Email::citext
        """;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!IsConfigured(options.Value))
        {
            return;
        }

        var (email, password) = (options.Value.Email!, options.Value.Password!);
        if (Unusable(email, password, policy) is { } reason)
        {
            throw new InvalidOperationException(reason);
        }

        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        if (await connection.ExecuteScalarAsync<bool>(new CommandDefinition(AnyAdminSql, cancellationToken: cancellationToken)))
        {
            return;
        }

        var hash = await hasher.HashAsync(password, cancellationToken);
        var normalised = IdentityRules.Normalise(email);
        var (userId, ended) = await UpsertAsync(connection, normalised, hash, clock.GetUtcNow(), cancellationToken);
        // Nodes already running (a rolling start) drop what they knew of the account and its ended sessions at once,
        // rather than when their copies expire.
        await committed.UserAsync(userId, ended);
        LogCreated(normalised);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Whether both <c>Admin__Email</c> and <c>Admin__Password</c> are set.</summary>
    internal static bool IsConfigured(AdminBootstrapOptions options) => !string.IsNullOrWhiteSpace(options.Email) && !string.IsNullOrEmpty(options.Password);

    /// <summary>Why the configured admin cannot be used (an invalid address, a password the policy refuses), or null.</summary>
    internal static string? Unusable(string email, string? password, PasswordPolicy policy) =>
        (IdentityRules.IsEmail(email) ? policy.Check(password, email) : "Admin__Email is not a valid address.") is { } reason
            ? $"Admin__Email / Admin__Password are not usable: {reason}"
            : null;

    /// <summary>
    /// Creates the admin with <paramref name="email"/> (normalised), or makes the account that holds it an active admin
    /// with the configured password, unlocked.
    /// </summary>
    /// <returns>The account's id and the sessions the takeover ended.</returns>
    internal static async Task<(Guid UserId, Guid[] Ended)> UpsertAsync(NpgsqlConnection connection, string email, string hash, DateTimeOffset now, CancellationToken ct)
    {
        var rows = (await connection.QueryAsync<(Guid UserId, Guid? Session)>(new CommandDefinition(UpsertSql, new { Id = Guid.CreateVersion7(), Email = email, Hash = hash, Now = now }, cancellationToken: ct))).ToList();
        return (rows[0].UserId, [.. rows.Where(r => r.Session is not null).Select(r => r.Session!.Value)]);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "First admin account {Email} is ready")]
    private partial void LogCreated(string email);
}
