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

    [Fact]
    public async Task Sessions_ended_a_month_ago_go_but_the_last_seen_one_stays_for_the_admins_last_seen()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);
        (await client.LoginAsync(user.Email)).StatusCode.ShouldBe(HttpStatusCode.OK);
        // Both sessions ended long ago; the second was the last one used.
        await database.ExecuteAsync("""
            update sessions set revoked_at = now() - interval '40 days',
                last_seen_at = now() - interval '45 days' + (row_number * interval '1 day')
            from (select id, row_number() over (order by created_at) as row_number from sessions where user_id = @UserId) ordered
            where sessions.id = ordered.id
            """, new { user.UserId });
        var lastSeen = await database.ScalarAsync<DateTime>("select max(last_seen_at) from sessions where user_id = @UserId", new { user.UserId });

        await MaintainAsync();

        (await database.ScalarAsync<long>("select count(*) from sessions where user_id = @UserId", new { user.UserId })).ShouldBe(1);
        var admin = await client.SignUpAdminAsync(database);
        var view = await (await client.SendAsync(HttpMethod.Get.Authorized($"/api/v1/admin/users/{user.UserId}", admin.AccessToken))).JsonAsync();
        view.GetProperty("lastSeenAt").GetDateTimeOffset().UtcDateTime.ShouldBe(lastSeen, TimeSpan.FromMilliseconds(1));
    }

    private async Task MaintainAsync()
    {
        using var scope = _api.Services.CreateScope();
        await scope.ServiceProvider.GetRequiredService<IMediator>().Send(new RunMaintenance.Command());
    }
}
