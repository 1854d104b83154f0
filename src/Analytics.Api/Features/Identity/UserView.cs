using Analytics.Api.Infrastructure.Database;

namespace Analytics.Api.Features.Identity;

public enum Gender
{
    Male,
    Female,
    Other,
}

/// <summary>A user as the API shows it: never the password hash, lockout counters or attribution internals.</summary>
public sealed record UserView(
    Guid Id,
    string Email,
    string? DisplayName,
    int? Age,
    Gender? Gender,
    string Role,
    string Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ActivatedAt)
{
    /// <summary>The select list that fills a <see cref="UserView"/> from <c>users u</c>.</summary>
    public const string Columns = """
        u.id as Id, u.email as Email, u.display_name as DisplayName, u.age as Age,
        u.gender as Gender, u.role as Role, u.status as Status, u.created_at as CreatedAt, u.activated_at as ActivatedAt
        """;

    /// <summary>Dapper's row shape: gender is text in the database.</summary>
    internal sealed record Row(Guid Id, string Email, string? DisplayName, short? Age, string? Gender, string Role, string Status, DateTime CreatedAt, DateTime? ActivatedAt)
    {
        public UserView ToView() => new(
            Id,
            Email,
            DisplayName,
            Age,
            Gender is null ? null : Enum.Parse<Gender>(Gender, ignoreCase: true),
            Role,
            Status,
            CreatedAt.AsUtc(),
            ActivatedAt.AsUtc());
    }

    public static string? GenderText(Gender? gender) => gender?.ToString().ToLowerInvariant();
}
