using Analytics.Api.Infrastructure.Auth;
using Analytics.Api.Infrastructure.OpenApi;
using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Analytics.Api.Features.Analytics.FeatureAnalytics;

public static partial class FeatureAnalytics
{
    public static RouteHandlerBuilder Map(IEndpointRouteBuilder api) =>
        api.MapGet("/analytics/features", Endpoint)
            .WithName("FeatureAnalytics")
            .WithSummary("Feature clicks per feature and, for one feature, per UTC day; filter by period, age band and gender.")
            .WithDescription(
                "startDate defaults to 30 days before endDate, endDate to now; the period is [startDate, endDate), at most 366 days. "
                + "age: all, <18, 18-40, >40; gender: all, male, female, other (clicks of users without that detail are left out when filtering by it). "
                + "feature defaults to the most-clicked one. Admins see every user's clicks, others their own.")
            .ProducesErrors(400, 401)
            .RequireAuthorization();

    private static async Task<Ok<Response>> Endpoint(
        IMediator mediator, HttpContext http, CancellationToken ct, DateTimeOffset? startDate = null, DateTimeOffset? endDate = null,
        string? age = null, string? gender = null, string? feature = null) =>
        TypedResults.Ok(await mediator.Send(new Query(startDate, endDate, age, gender, feature) { User = CurrentUser.From(http.User)! }, ct));
}
