namespace Analytics.Api.Infrastructure.Http;

public sealed class ApiOptions
{
    public const string Section = "Api";

    /// <summary>Largest request body accepted, in bytes; larger ones get 413.</summary>
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;
}
