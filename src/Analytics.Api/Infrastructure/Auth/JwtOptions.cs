using System.Text;
using Microsoft.Extensions.Options;

namespace Analytics.Api.Infrastructure.Auth;

public sealed class JwtOptions
{
    public const string Section = "Jwt";

    /// <summary>HS256 key, at least 32 bytes (256 bits) of UTF-8. Required outside Development.</summary>
    public string SigningKey { get; set; } = "";

    public string Issuer { get; set; } = "analytics";

    public string Audience { get; set; } = "analytics";

    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromMinutes(15);

    public TimeSpan RefreshTokenLifetime { get; set; } = TimeSpan.FromDays(30);

    /// <summary>How long a just-rotated refresh token still returns the current pair (a client that lost the response).</summary>
    public TimeSpan RefreshReuseGrace { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long each node keeps its own copy of a session check (0 turns the copies off). Re-checks after sign-out,
    /// revocation or a role change drop the copies on every node at once; only a lost bus message leaves one this long.
    /// </summary>
    public TimeSpan SessionCheckLocalFor { get; set; } = TimeSpan.FromSeconds(5);

    public byte[] KeyBytes => Encoding.UTF8.GetBytes(SigningKey);
}

internal sealed class JwtOptionsValidator : IValidateOptions<JwtOptions>
{
    public ValidateOptionsResult Validate(string? name, JwtOptions options) =>
        options switch
        {
            { SigningKey.Length: 0 } => ValidateOptionsResult.Fail("Jwt__SigningKey is not set: set it to a random secret of at least 32 bytes, e.g. the output of 'openssl rand -base64 48'."),
            _ when options.KeyBytes.Length < 32 => ValidateOptionsResult.Fail($"Jwt__SigningKey is too weak ({options.KeyBytes.Length} bytes): HS256 needs at least 32 bytes, e.g. 'openssl rand -base64 48'."),
            { AccessTokenLifetime.TotalSeconds: < 30 } => ValidateOptionsResult.Fail("Jwt__AccessTokenLifetime must be at least 30 seconds."),
            { SessionCheckLocalFor.Ticks: < 0 } => ValidateOptionsResult.Fail("Jwt__SessionCheckLocalFor must not be negative (0 turns the node-local copies off)."),
            _ when options.RefreshTokenLifetime <= options.AccessTokenLifetime => ValidateOptionsResult.Fail("Jwt__RefreshTokenLifetime must be longer than Jwt__AccessTokenLifetime."),
            _ => ValidateOptionsResult.Success,
        };
}
