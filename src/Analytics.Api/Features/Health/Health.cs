using Analytics.Api.Infrastructure.Auth;
using Analytics.Api.Infrastructure.Health;
using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Analytics.Api.Features.Health;

/// <summary><c>/health/live</c>: the process answers. <c>/health/ready</c>: its dependencies do too.</summary>
public static class Health
{
    public sealed record Query : IRequest<Response>;

    public sealed record Response(string Status, IReadOnlyDictionary<string, DependencyReport> Dependencies)
    {
        public bool Ready => Status != "unhealthy";
    }

    public sealed record DependencyReport(string Status, double? LatencyMs, string? Error, IReadOnlyDictionary<string, object>? Details);

    public sealed record Liveness(string Status);

    internal sealed class Handler(IEnumerable<IReadinessCheck> checks) : IRequestHandler<Query, Response>
    {
        private static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(3);

        public async Task<Response> Handle(Query request, CancellationToken cancellationToken)
        {
            var results = await Task.WhenAll(checks.Select(c => RunAsync(c, cancellationToken)));
            var worst = results.Length == 0 ? HealthState.Healthy : results.Max(r => r.Status.Status);
            return new Response(
                Describe(worst),
                results.ToDictionary(r => r.Name, r => new DependencyReport(Describe(r.Status.Status), r.Status.LatencyMs, r.Status.Error, r.Status.Details)));
        }

        private static async Task<(string Name, DependencyStatus Status)> RunAsync(IReadinessCheck check, CancellationToken ct)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(CheckTimeout);
            try
            {
                return (check.Name, await check.CheckAsync(timeout.Token));
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                return (check.Name, new DependencyStatus(HealthState.Unhealthy, null, $"No answer within {CheckTimeout.TotalSeconds:0} s.", null));
            }
        }

        private static string Describe(HealthState state) => state.ToString().ToLowerInvariant();
    }

    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/health").WithTags("Health").AllowAnonymous();
        group.MapGet("/live", Live)
            .WithName("Live")
            .WithSummary("The process is up.");
        group.MapGet("/ready", Ready)
            .WithName("Ready")
            .WithSummary("PostgreSQL (and Redis when configured) answer; 503 names the dependency that does not.")
            .WithDescription("Each dependency's status and latency; its error and figures (pool, connection state) only for an admin's bearer token, or for everyone with Health__PublicDetails=true.")
            .Produces<Response>(StatusCodes.Status200OK)
            .Produces<Response>(StatusCodes.Status503ServiceUnavailable);
        return app;
    }

    private static Ok<Liveness> Live() => TypedResults.Ok(new Liveness("healthy"));

    private static async Task<JsonHttpResult<Response>> Ready(IMediator mediator, HttpContext http, IConfiguration configuration, CancellationToken ct)
    {
        var response = await mediator.Send(new Query(), ct);
        // Errors name hosts and ports, pool figures tell the load: an admin's token (or Health:PublicDetails) sees them,
        // a probe needs the statuses only.
        if (!http.User.IsInRole(Roles.Admin) && !configuration.GetValue<bool>("Health:PublicDetails"))
        {
            response = response with { Dependencies = response.Dependencies.ToDictionary(d => d.Key, d => d.Value with { Error = null, Details = null }) };
        }

        return TypedResults.Json(response, statusCode: response.Ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }
}
