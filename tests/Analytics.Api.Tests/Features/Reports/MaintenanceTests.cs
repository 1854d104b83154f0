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

    [Fact]
    public async Task Activity_minute_rollups_and_idempotency_ids_go_after_their_retention_however_many()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);
        var role = $"maintenance-{Guid.NewGuid():N}";
        await database.ExecuteAsync("""
            insert into activity_log (user_id, kind, occurred_at) values
                (@UserId, 'profile_updated', now() - interval '401 days'), (@UserId, 'profile_updated', now() - interval '399 days');
            insert into rollup_minutely (bucket, metric, role, value) values
                (date_trunc('minute', now() - interval '9 days'), 'failed_logins', @role, 1),
                (date_trunc('minute', now() - interval '7 days 2 hours'), 'failed_logins', @role, 1);
            """, new { user.UserId, role });
        // More than one batch of ids past their 30 days.
        var ids = Enumerable.Range(0, RunMaintenance.BatchSize + 2_500).Select(_ => Guid.NewGuid()).ToArray();
        await database.ExecuteAsync("insert into event_ids (id, received_at) select unnest(@ids), now() - interval '31 days'", new { ids });

        await MaintainAsync();

        (await database.ScalarAsync<long>("select count(*) from event_ids where id = any(@ids)", new { ids })).ShouldBe(0);
        (await database.ScalarAsync<int>("""
            select extract(day from now() - occurred_at)::int from activity_log where user_id = @UserId and kind = 'profile_updated'
            """, new { user.UserId })).ShouldBe(399);
        (await database.ScalarAsync<int>("select extract(day from now() - bucket)::int from rollup_minutely where role = @role", new { role })).ShouldBe(7);
    }

    [Fact]
    public async Task A_month_whose_events_waited_in_the_default_partition_gets_its_partition_with_them()
    {
        var id = Guid.NewGuid();
        var at = new DateTimeOffset(2091, 3, 15, 12, 0, 0, TimeSpan.Zero);
        try
        {
            await database.ExecuteAsync("insert into events (id, occurred_at, received_at, type) values (@id, @at, now(), 'custom')", new { id, at });
            (await database.ScalarAsync<long>("select count(*) from events_default where id = @id", new { id })).ShouldBe(1);

            (await database.ScalarAsync<string>("select ensure_events_partition(@at)", new { at })).ShouldBe("events_2091_03");

            (await database.ScalarAsync<long>("select count(*) from events_2091_03 where id = @id", new { id })).ShouldBe(1);
            (await database.ScalarAsync<long>("select count(*) from events_default where id = @id", new { id })).ShouldBe(0);
        }
        finally
        {
            await database.ExecuteAsync("drop table if exists events_2091_03; delete from events_default where id = @id", new { id });
        }
    }

    private async Task MaintainAsync()
    {
        using var scope = _api.Services.CreateScope();
        await scope.ServiceProvider.GetRequiredService<IMediator>().Send(new RunMaintenance.Command());
    }
}
