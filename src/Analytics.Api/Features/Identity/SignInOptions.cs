namespace Analytics.Api.Features.Identity;

public sealed class SignInOptions
{
    public const string Section = "SignIn";

    public int MaxAttemptsPerEmail { get; set; } = 5;

    public int MaxAttemptsPerIp { get; set; } = 20;

    public TimeSpan AttemptWindow { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Consecutive wrong passwords that lock the account.</summary>
    public int LockoutThreshold { get; set; } = 10;

    public TimeSpan LockoutDuration { get; set; } = TimeSpan.FromMinutes(15);

    public int MaxResendsPerEmail { get; set; } = 3;

    /// <summary>Registrations per IP per <see cref="ResendWindow"/>: each one costs a password hash and sends a mail.</summary>
    public int MaxRegistrationsPerIp { get; set; } = 20;

    /// <summary>Activation attempts (link or code) per IP per <see cref="AttemptWindow"/>.</summary>
    public int MaxActivationsPerIp { get; set; } = 30;

    /// <summary>Code attempts per address per <see cref="ResendWindow"/>, across all codes sent to it.</summary>
    public int MaxCodeAttemptsPerEmail { get; set; } = 10;

    /// <summary>E-mail changes per user, and per new address, per <see cref="ResendWindow"/>.</summary>
    public int MaxEmailChangesPerUser { get; set; } = 3;

    /// <summary>Password changes (right or wrong current password) per user per <see cref="AttemptWindow"/>.</summary>
    public int MaxPasswordChangesPerUser { get; set; } = 5;

    public TimeSpan ResendWindow { get; set; } = TimeSpan.FromHours(1);
}
