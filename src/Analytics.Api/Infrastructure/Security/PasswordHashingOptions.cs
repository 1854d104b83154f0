using Microsoft.Extensions.Options;

namespace Analytics.Api.Infrastructure.Security;

/// <summary>Argon2id parameters (OWASP's minimum by default: m=19 MiB, t=2, p=1). Hashes made with other values are upgraded at login.</summary>
public sealed class PasswordHashingOptions
{
    public const string Section = "Passwords";

    public int MemoryKib { get; set; } = 19 * 1024;

    public int Iterations { get; set; } = 2;

    /// <summary>
    /// Hashes computed at once; each holds <see cref="MemoryKib"/> of memory. 0 means one per core: hashing is
    /// CPU-bound, so more at once only adds memory and cache misses, not sign-ins per second.
    /// </summary>
    public int MaxConcurrentHashes { get; set; }

    public int MinLength { get; set; } = 10;

    public int MaxLength { get; set; } = 128;
}

internal sealed class PasswordHashingOptionsValidator : IValidateOptions<PasswordHashingOptions>
{
    public ValidateOptionsResult Validate(string? name, PasswordHashingOptions options) =>
        options switch
        {
            { MemoryKib: < 8 } => ValidateOptionsResult.Fail("Passwords__MemoryKib must be at least 8 (KiB); 19456 is the recommended minimum."),
            { Iterations: < 1 } => ValidateOptionsResult.Fail("Passwords__Iterations must be at least 1."),
            { MinLength: < 8 } => ValidateOptionsResult.Fail("Passwords__MinLength must be at least 8."),
            { MaxLength: > 1024 } => ValidateOptionsResult.Fail("Passwords__MaxLength must be at most 1024."),
            _ when options.MaxLength < options.MinLength => ValidateOptionsResult.Fail("Passwords__MaxLength must not be less than Passwords__MinLength."),
            _ => ValidateOptionsResult.Success,
        };
}
