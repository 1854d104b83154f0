using FluentValidation;

namespace Analytics.Api.Infrastructure.Pipeline;

public static class TextRules
{
    /// <summary>No control characters (line breaks, tabs, escapes): they would forge lines in lists, logs and e-mails.</summary>
    public static IRuleBuilderOptions<T, string?> NoControlCharacters<T>(this IRuleBuilder<T, string?> rule, string what) =>
        rule.Must(v => v is null || !v.Any(char.IsControl)).WithMessage($"{what} must not contain control characters.");
}
