using System.Reflection;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Metadata;

namespace Analytics.Api.Infrastructure.Http;

/// <summary>
/// A 200 whose body is a <typeparamref name="T"/> already serialized with the API's JSON options (see
/// <see cref="HttpApiExtensions.ConfigureJson"/>), so that a cached answer is written as stored instead of being
/// read back and serialized again. The OpenAPI document describes it as <typeparamref name="T"/>.
/// </summary>
public sealed class Utf8Json<T> : IResult, IEndpointMetadataProvider, IStatusCodeHttpResult, IContentTypeHttpResult
{
    private const string JsonContentType = "application/json; charset=utf-8";

    public Utf8Json(byte[] json)
    {
        ArgumentNullException.ThrowIfNull(json);
        Json = json;
    }

    public byte[] Json { get; }

    public int? StatusCode => StatusCodes.Status200OK;

    public string ContentType => JsonContentType;

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        var response = httpContext.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = JsonContentType;
        response.ContentLength = Json.Length;
        await response.BodyWriter.WriteAsync(Json, httpContext.RequestAborted);
    }

    static void IEndpointMetadataProvider.PopulateMetadata(MethodInfo method, EndpointBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(T), ["application/json"]));
    }
}

public static class Utf8Json
{
    /// <summary><paramref name="value"/> serialized with <paramref name="options"/> (the API's, from <c>IOptions&lt;JsonOptions&gt;</c>).</summary>
    public static Utf8Json<T> Serialize<T>(T value, JsonSerializerOptions options) => new(JsonSerializer.SerializeToUtf8Bytes(value, options));
}
