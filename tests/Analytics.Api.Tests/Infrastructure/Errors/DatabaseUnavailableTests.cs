using System.Net;
using System.Net.Http.Json;
using Analytics.Api.Infrastructure.Auth;
using Microsoft.Extensions.DependencyInjection;

namespace Analytics.Api.Tests.Infrastructure.Errors;

/// <summary>
/// When PostgreSQL does not answer, requests get a 503 ProblemDetails with Retry-After: not a 500 (nothing about the
/// request is wrong) and, for a signed-in caller whose session cannot be checked, not a 401 (the token may be good).
/// </summary>
public sealed class DatabaseUnavailableTests(TestDatabase database)
{
    [Fact]
    public async Task A_sign_in_while_the_database_is_unreachable_gets_503_with_retry_after()
    {
        await using var api = ApiFactory.WithUnreachablePostgres(database);

        var response = await api.CreateClient().PostAsJsonAsync(new Uri("/api/v1/auth/login", UriKind.Relative), new { email = "someone@example.com", password = "a long enough password" });

        var problem = await response.ShouldBeProblemAsync(HttpStatusCode.ServiceUnavailable);
        problem.GetProperty("title").GetString().ShouldBe("The database is unavailable.");
        response.Headers.RetryAfter!.Delta.ShouldBe(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task A_signed_in_request_whose_session_cannot_be_checked_gets_503_not_401()
    {
        await using var api = ApiFactory.WithUnreachablePostgres(database);
        var token = api.Services.GetRequiredService<AccessTokens>().Issue(Guid.NewGuid(), Roles.User, Guid.NewGuid()).Token;

        var response = await api.CreateClient().SendAsync(HttpMethod.Get.Authorized("/api/v1/auth/me", token));

        var problem = await response.ShouldBeProblemAsync(HttpStatusCode.ServiceUnavailable);
        problem.GetProperty("title").GetString().ShouldBe("The database is unavailable.");
        response.Headers.RetryAfter!.Delta.ShouldBe(TimeSpan.FromSeconds(5));
        response.Headers.WwwAuthenticate.ShouldBeEmpty();
    }
}
