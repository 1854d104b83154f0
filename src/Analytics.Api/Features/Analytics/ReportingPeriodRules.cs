using FluentValidation;

namespace Analytics.Api.Features.Analytics;

/// <summary>The checks every analytics query with a <see cref="ReportingPeriod"/> makes of it.</summary>
internal static class ReportingPeriodRules
{
    /// <summary>
    /// The period must lie between <see cref="ReportingPeriod.Earliest"/> and <see cref="ReportingPeriod.Latest"/> (a failure of
    /// <paramref name="from"/>), must not end before it starts (a failure of <paramref name="from"/>) nor span more than
    /// <see cref="ReportingPeriod.MaxDays"/> days (a failure of <paramref name="to"/>, said by <paramref name="tooLong"/> when
    /// given); <paramref name="from"/> and <paramref name="to"/> are the names the client sends.
    /// </summary>
    public static void PeriodRules<T>(this AbstractValidator<T> validator, Func<T, ReportingPeriod> period, string from, string to, string? tooLong = null)
    {
        validator.RuleFor(q => q).Must(q => period(q).IsInRange)
            .WithName(from).WithMessage($"{from} and {to} must lie between {ReportingPeriod.Earliest:yyyy-MM-dd} and {ReportingPeriod.Latest:yyyy-MM-dd}.")
            .DependentRules(() =>
            {
                validator.RuleFor(q => q).Must(q => period(q).IsOrdered)
                    .WithName(from).WithMessage($"{from} must not be after {to}.");
                validator.RuleFor(q => q).Must(q => period(q).IsWithinLimit)
                    .WithName(to).WithMessage(tooLong ?? $"The period from '{from}' to '{to}' must be at most {ReportingPeriod.MaxDays} days.");
            });
    }
}
