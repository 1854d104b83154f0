using System.Net;
using System.Net.Http.Json;
using Analytics.Api.Features.Reports.Maintenance;
using Analytics.Api.Tests.Infrastructure;
using MediatR;
using Microsoft.Extensions.DependencyInjection;

namespace Analytics.Api.Tests.Features.Reports;

/// <summary>The hourly upkeep removes only what has been unneeded for its whole retention.</summary>
public sealed class MaintenanceTests(TestDatabase database) : IAsyncDisposable
{
    private readonly ApiFactory _api = new(database);

    public ValueTask DisposeAsync() => _api.DisposeAsync();

    [Fact]
    public async Task A_used_activation_link_answers_410_for_a_month_and_is_removed_after_it()
    {
        var client = _api.CreateClient();
        var email = Accounts.NewEmail();
        (await client.RegisterAsync(email)).StatusCode.ShouldBe(HttpStatusCode.Created);
        var (token, _) = await database.ActivationMailAsync(email);
        (await client.PostAsJsonAsync(new Uri("/api/v1/auth/activate", UriKind.Relative), new { token })).StatusCode.ShouldBe(HttpStatusCode.OK);

        await database.ExecuteAsync("update activation_tokens t set used_at = now() - interval '29 days' from users u where u.id = t.user_id and u.email = @email", new { email });
        await MaintainAsync();
        (await client.PostAsJsonAsync(new Uri("/api/v1/auth/activate", UriKind.Relative), new { token })).StatusCode.ShouldBe(HttpStatusCode.Gone);

        await database.ExecuteAsync("update activation_tokens t set used_at = now() - interval '31 days' from users u where u.id = t.user_id and u.email = @email", new { email });
        await MaintainAsync();
        (await database.ScalarAsync<long>("select count(*) from activation_tokens t join users u on u.id = t.user_id where u.email = @email", new { email })).ShouldBe(0);
    }

    private async Task MaintainAsync()
    {
        using var scope = _api.Services.CreateScope();
        await scope.ServiceProvider.GetRequiredService<IMediator>().Send(new RunMaintenance.Command());
    }
}
