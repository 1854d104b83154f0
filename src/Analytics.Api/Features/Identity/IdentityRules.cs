using System.Net.Mail;
using Analytics.Api.Infrastructure.Pipeline;
using FluentValidation;

namespace Analytics.Api.Features.Identity;

/// <summary>Field rules shared by the identity slices, with the documented maximum of every string.</summary>
public static class IdentityRules
{
    public const int MaxEmailLength = 254;
    public const int MaxDisplayNameLength = 100;
    public const int MaxUrlLength = 2048;
    public const int MaxUtmLength = 200;
    public const int MinAge = 0;
    public const int MaxAge = 150;

    public static IRuleBuilderOptions<T, string?> ValidEmail<T>(this IRuleBuilder<T, string?> rule) =>
        rule.NotEmpty().WithMessage("E-mail is required.")
            .MaximumLength(MaxEmailLength).WithMessage($"E-mail must have at most {MaxEmailLength} characters.")
            .Must(IsEmail).WithMessage("E-mail is not a valid address (expected name@example.com).");

    public static bool IsEmail(string? value)
    {
        if (string.IsNullOrWhiteSpace(value) || value.Trim() != value || value.Contains(' ', StringComparison.Ordinal))
        {
            return false;
        }

        // MailAddress accepts display names and bare hosts; insist on exactly "local@domain.tld".
        return MailAddress.TryCreate(value, out var address)
            && address.Address == value
            && address.Host.Contains('.', StringComparison.Ordinal)
            && !address.Host.StartsWith('.') && !address.Host.EndsWith('.');
    }

    public static string Normalise(string email)
    {
        ArgumentNullException.ThrowIfNull(email);
        return email.Trim().ToLowerInvariant();
    }

    public static IRuleBuilderOptions<T, string?> OptionalUrl<T>(this IRuleBuilder<T, string?> rule, string name) =>
        rule.MaximumLength(MaxUrlLength).WithMessage($"{name} must have at most {MaxUrlLength} characters.")
            .Must(v => v is null || (Uri.TryCreate(v, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)))
            .WithMessage($"{name} must be an absolute http(s) URL.");

    public static IRuleBuilderOptions<T, string?> OptionalUtm<T>(this IRuleBuilder<T, string?> rule, string name) =>
        rule.MaximumLength(MaxUtmLength).WithMessage(UtmTooLong(name));

    /// <summary>What a UTM field over its limit is told; <paramref name="name"/> as clients spell the field.</summary>
    public static string UtmTooLong(string name) => $"{name} must have at most {MaxUtmLength} characters.";
}

/// <summary>Where a visitor came from, as the client app reports it at registration or sign-in (flat fields of the body).</summary>
public interface IHasAttribution
{
    string? ReferrerUrl { get; }

    string? LandingPage { get; }

    string? UtmSource { get; }

    string? UtmMedium { get; }

    string? UtmCampaign { get; }

    string? UtmTerm { get; }

    string? UtmContent { get; }
}

/// <summary>The profile fields that register and the profile update both take.</summary>
public interface IHasProfile
{
    string? DisplayName { get; }

    int? Age { get; }

    Gender? Gender { get; }
}

/// <summary>
/// Included by the validators of commands that carry profile fields. A gender must be one of the names: JSON's enum
/// reading also takes comma-joined names ("female, other") as a combination that is none of them.
/// </summary>
internal sealed class ProfileValidator : AbstractValidator<IHasProfile>
{
    public ProfileValidator()
    {
        RuleFor(p => p.DisplayName).MaximumLength(IdentityRules.MaxDisplayNameLength)
            .WithMessage($"Display name must have at most {IdentityRules.MaxDisplayNameLength} characters.")
            .NoControlCharacters("Display name");
        RuleFor(p => p.Age).InclusiveBetween(IdentityRules.MinAge, IdentityRules.MaxAge)
            .WithMessage($"Age must be between {IdentityRules.MinAge} and {IdentityRules.MaxAge}.");
        RuleFor(p => p.Gender).IsInEnum().WithMessage("Gender must be one of male, female or other.");
    }
}

/// <summary>Included by the validators of commands that carry attribution.</summary>
internal sealed class AttributionValidator : AbstractValidator<IHasAttribution>
{
    public AttributionValidator()
    {
        RuleFor(a => a.ReferrerUrl).OptionalUrl("referrerUrl");
        RuleFor(a => a.LandingPage).OptionalUrl("landingPage");
        RuleFor(a => a.UtmSource).OptionalUtm("utmSource");
        RuleFor(a => a.UtmMedium).OptionalUtm("utmMedium");
        RuleFor(a => a.UtmCampaign).OptionalUtm("utmCampaign");
        RuleFor(a => a.UtmTerm).OptionalUtm("utmTerm");
        RuleFor(a => a.UtmContent).OptionalUtm("utmContent");
    }
}
