using System.Collections.Frozen;
using Microsoft.Extensions.Options;

namespace Analytics.Api.Infrastructure.Security;

/// <summary>Length bounds from configuration, not one of the most common passwords, not the e-mail address.</summary>
public sealed class PasswordPolicy(IOptions<PasswordHashingOptions> options)
{
    private static readonly FrozenSet<string> Common = LoadCommon();

    public int MinLength => options.Value.MinLength;

    public int MaxLength => options.Value.MaxLength;

    /// <summary>Why <paramref name="password"/> is not acceptable, or null when it is.</summary>
    public string? Check(string? password, string? email)
    {
        if (string.IsNullOrEmpty(password))
        {
            return "Password is required.";
        }

        if (password.Length < MinLength)
        {
            return $"Password must have at least {MinLength} characters.";
        }

        if (password.Length > MaxLength)
        {
            return $"Password must have at most {MaxLength} characters.";
        }

        if (Common.Contains(password))
        {
            return "Password is one of the most commonly used passwords; choose another.";
        }

        if (email is not null && (string.Equals(password, email.Trim(), StringComparison.OrdinalIgnoreCase)
            || string.Equals(password, email.Split('@')[0], StringComparison.OrdinalIgnoreCase)))
        {
            return "Password must not be your e-mail address.";
        }

        return null;
    }

    private static FrozenSet<string> LoadCommon()
    {
        using var stream = typeof(PasswordPolicy).Assembly.GetManifestResourceStream("common-passwords.txt")!;
        using var reader = new StreamReader(stream);
        var words = new List<string>();
        while (reader.ReadLine() is { } line)
        {
            if (line.Length > 0)
            {
                words.Add(line);
            }
        }

        return words.ToFrozenSet(StringComparer.OrdinalIgnoreCase);
    }
}
