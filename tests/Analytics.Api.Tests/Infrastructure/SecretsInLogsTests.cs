using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Analytics.Api.Tests.Infrastructure;

/// <summary>No log line carries a password, password hash, access token, refresh token or activation secret.</summary>
public sealed class SecretsInLogsTests(TestDatabase database)
{
    [Fact]
    public async Task A_whole_account_lifecycle_logs_no_secrets()
    {
        var sink = new CapturingLoggerProvider();
        await using var api = new ApiFactory(database);
        var factory = api.WithWebHostBuilder(b => b.ConfigureServices(s => s.AddLogging(l => l.AddProvider(sink).SetMinimumLevel(LogLevel.Trace))));
        var client = factory.CreateClient();

        var user = await client.SignUpAsync(database);
        await client.LoginAsync(user.Email, "a wrong password 123");
        var refreshed = await (await client.PostAsJsonAsync(new Uri("/api/v1/auth/refresh", UriKind.Relative), new { user.RefreshToken })).JsonAsync();
        await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/users/me/password", refreshed.GetProperty("accessToken").GetString()!, new { currentPassword = Accounts.Password, newPassword = "the next passphrase" }));
        var (activationToken, code) = await database.ActivationMailAsync(user.Email);
        var hash = await database.ScalarAsync<string>("select password_hash from users where id = @UserId", new { user.UserId });

        var logs = string.Join('\n', sink.Lines);
        logs.ShouldNotBeEmpty();
        foreach (var secret in new[] { Accounts.Password, "a wrong password 123", "the next passphrase", hash, user.AccessToken, user.RefreshToken, refreshed.GetProperty("refreshToken").GetString()!, activationToken, ApiFactory.SigningKey })
        {
            logs.ShouldNotContain(secret);
        }

        logs.ShouldNotContain($"code: {code}");
    }
}
