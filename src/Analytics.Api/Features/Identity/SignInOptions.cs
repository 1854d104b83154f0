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

    public TimeSpan ResendWindow { get; set; } = TimeSpan.FromHours(1);
}
