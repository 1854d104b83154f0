namespace Analytics.Api.Infrastructure.Database;

/// <summary>Npgsql reads <c>timestamptz</c> as a UTC <see cref="DateTime"/>; the API speaks <see cref="DateTimeOffset"/>.</summary>
public static class DbTime
{
    public static DateTimeOffset AsUtc(this DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    public static DateTimeOffset? AsUtc(this DateTime? value) => value?.AsUtc();
}
