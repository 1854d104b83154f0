using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Dapper;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Npgsql;

namespace Analytics.Api.Tests.Infrastructure;

/// <summary>Drives the identity endpoints the way a client app does, reading activation mails from the outbox.</summary>
public static partial class Accounts
{
    public const string Password = "correct horse battery staple";

    public static string NewEmail(string prefix = "user") => $"{prefix}-{Guid.NewGuid():N}@example.com";

    /// <summary>E-mail and password, plus the properties of <paramref name="extra"/> (profile, client context).</summary>
    private static Dictionary<string, object?> Credentials(string email, string password, object? extra)
    {
        var body = new Dictionary<string, object?> { ["email"] = email, ["password"] = password };
        if (extra is not null)
        {
            foreach (var property in JsonSerializer.SerializeToElement(extra).EnumerateObject())
            {
                body[property.Name] = property.Value;
            }
        }

        return body;
    }

    public static Task<HttpResponseMessage> RegisterAsync(this HttpClient client, string email, string password = Password, object? extra = null) =>
        client.PostAsJsonAsync(new Uri("/api/v1/auth/register", UriKind.Relative), Credentials(email, password, extra));

    public static Task<HttpResponseMessage> LoginAsync(this HttpClient client, string email, string password = Password, object? extra = null) =>
        client.PostAsJsonAsync(new Uri("/api/v1/auth/login", UriKind.Relative), Credentials(email, password, extra));

    /// <summary>The newest activation mail of <paramref name="email"/>: its link token and code.</summary>
    public static Task<(string Token, string Code)> ActivationMailAsync(this TestDatabase database, string email) => ActivationMailAsync(database.ConnectionString, email);

    /// <summary>The same, in the database <paramref name="connectionString"/> names (a fresh one a test created).</summary>
    public static async Task<(string Token, string Code)> ActivationMailAsync(string connectionString, string email)
    {
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await using var connection = await dataSource.OpenConnectionAsync();
        var body = await connection.QuerySingleAsync<string>("select body from outbox where recipient = @email order by id desc limit 1", new { email });
        return (TokenPattern().Match(body).Groups[1].Value, CodePattern().Match(body).Groups[1].Value);
    }

    /// <summary>Registers, activates by link and signs in; returns the login response.</summary>
    public static Task<SignedIn> SignUpAsync(this HttpClient client, TestDatabase database, string? email = null, object? profile = null) =>
        client.SignUpAsync(database.ConnectionString, email, profile);

    /// <summary>The same, for a service on the database <paramref name="connectionString"/> names.</summary>
    public static async Task<SignedIn> SignUpAsync(this HttpClient client, string connectionString, string? email = null, object? profile = null)
    {
        email ??= NewEmail();
        (await client.RegisterAsync(email, extra: profile)).StatusCode.ShouldBe(HttpStatusCode.Created);
        var (token, _) = await ActivationMailAsync(connectionString, email);
        (await client.PostAsJsonAsync(new Uri("/api/v1/auth/activate", UriKind.Relative), new { token })).StatusCode.ShouldBe(HttpStatusCode.OK);
        var login = await client.LoginAsync(email);
        login.StatusCode.ShouldBe(HttpStatusCode.OK);
        var body = JsonDocument.Parse(await login.Content.ReadAsStringAsync()).RootElement;
        return new SignedIn(
            email,
            Guid.Parse(body.GetProperty("user").GetProperty("id").GetString()!),
            Guid.Parse(body.GetProperty("sessionId").GetString()!),
            body.GetProperty("accessToken").GetString()!,
            body.GetProperty("refreshToken").GetString()!);
    }

    /// <summary>A signed-in admin: signs up, is promoted in the database (test set-up only), and signs in again.</summary>
    public static Task<SignedIn> SignUpAdminAsync(this HttpClient client, TestDatabase database) => client.SignUpAdminAsync(database.ConnectionString);

    /// <summary>The same, for a service on the database <paramref name="connectionString"/> names.</summary>
    public static async Task<SignedIn> SignUpAdminAsync(this HttpClient client, string connectionString)
    {
        var user = await client.SignUpAsync(connectionString);
        await using (var dataSource = NpgsqlDataSource.Create(connectionString))
        {
            await using var connection = await dataSource.OpenConnectionAsync();
            await connection.ExecuteAsync("update users set role = 'admin' where id = @UserId", new { user.UserId });
        }

        var login = await (await client.LoginAsync(user.Email)).JsonAsync();
        return user with { SessionId = Guid.Parse(login.GetProperty("sessionId").GetString()!), AccessToken = login.GetProperty("accessToken").GetString()!, RefreshToken = login.GetProperty("refreshToken").GetString()! };
    }

    public static HttpRequestMessage Authorized(this HttpMethod method, string path, string accessToken, object? body = null)
    {
        var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        return request;
    }

    public static async Task<JsonElement> JsonAsync(this HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

    public static async Task<T> ScalarAsync<T>(this TestDatabase database, string sql, object? parameters = null)
    {
        await using var dataSource = NpgsqlDataSource.Create(database.ConnectionString);
        await using var connection = await dataSource.OpenConnectionAsync();
        return (await connection.ExecuteScalarAsync<T>(sql, parameters))!;
    }

    public static async Task<List<T>> QueryAsync<T>(this TestDatabase database, string sql, object? parameters = null)
    {
        await using var dataSource = NpgsqlDataSource.Create(database.ConnectionString);
        await using var connection = await dataSource.OpenConnectionAsync();
        return [.. await connection.QueryAsync<T>(sql, parameters)];
    }

    public static async Task ExecuteAsync(this TestDatabase database, string sql, object? parameters = null)
    {
        await using var dataSource = NpgsqlDataSource.Create(database.ConnectionString);
        await using var connection = await dataSource.OpenConnectionAsync();
        await connection.ExecuteAsync(sql, parameters);
    }

    /// <summary>An access token for <paramref name="user"/>'s session signed like the service's (or not, as asked).</summary>
    public static string ForgeAccessToken(SignedIn user, string key = ApiFactory.SigningKey, string issuer = "analytics", string audience = "analytics", string role = "user", DateTime? expires = null)
    {
        var now = DateTime.UtcNow;
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            IssuedAt = now.AddHours(-2),
            NotBefore = now.AddHours(-2),
            Expires = expires ?? now.AddMinutes(10),
            Subject = new ClaimsIdentity([new Claim("sub", user.UserId.ToString()), new Claim("role", role), new Claim("sid", user.SessionId.ToString())]),
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(key)), SecurityAlgorithms.HmacSha256),
        });
    }

    [GeneratedRegex(@"\?token=([A-Za-z0-9_\-%]+)")]
    private static partial Regex TokenPattern();

    [GeneratedRegex(@"code: (\d{6})")]
    private static partial Regex CodePattern();
}

public sealed record SignedIn(string Email, Guid UserId, Guid SessionId, string AccessToken, string RefreshToken);
