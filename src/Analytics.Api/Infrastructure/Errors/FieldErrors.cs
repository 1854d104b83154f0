using System.Text.Json;
using FluentValidation.Results;

namespace Analytics.Api.Infrastructure.Errors;

/// <summary>Validation failures as clients see them: by camelCase field name, each message once.</summary>
public static class FieldErrors
{
    public static Dictionary<string, string[]> From(IEnumerable<ValidationFailure> failures) =>
        failures
            .GroupBy(f => JsonNamingPolicy.CamelCase.ConvertName(f.PropertyName))
            .ToDictionary(g => g.Key, g => g.Select(f => f.ErrorMessage).Distinct(StringComparer.Ordinal).ToArray());
}
