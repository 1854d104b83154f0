using Analytics.Api.Infrastructure.Auth;
using Analytics.Api.Infrastructure.Auth.ApiKeys;
using Analytics.Api.Infrastructure.OpenApi;
using Dapper;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Analytics.Api.Features.Events.ApiKeys;

/// <summary><c>POST /api-keys</c>: a key for one of your apps. The key itself is in this answer only; it is stored hashed.</summary>
public static class CreateApiKey
{
    public const int MaxNameLength = 100;

    public sealed record Command(string Name) : IRequest<Response>
    {
        internal Guid OwnerId { get; init; }
    }

    public sealed record Response(Guid Id, string Name, string Key, string Prefix, DateTimeOffset CreatedAt);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(c => c.Name).NotEmpty().WithMessage("Name is required.")
            .MaximumLength(MaxNameLength).WithMessage($"Name must have at most {MaxNameLength} characters.");
    }

    internal sealed class Handler(NpgsqlDataSource db, TimeProvider clock) : IRequestHandler<Command, Response>
    {
        private const string InsertSql = """
            insert into api_keys (id, user_id, name, public_id, secret_hash, created_at)
            values (@Id, @OwnerId, @Name, @PublicId, @SecretHash, @Now)
            """;

        public async Task<Response> Handle(Command request, CancellationToken cancellationToken)
        {
            var (key, publicId, secretHash) = ApiKeyFormat.New();
            var id = Guid.CreateVersion7();
            var now = clock.GetUtcNow();
            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            await connection.ExecuteAsync(new CommandDefinition(InsertSql, new { Id = id, request.OwnerId, Name = request.Name.Trim(), PublicId = publicId, SecretHash = secretHash, Now = now }, cancellationToken: cancellationToken));
            return new Response(id, request.Name.Trim(), key, ApiKeyFormat.Prefix + publicId, now);
        }
    }

    public static RouteHandlerBuilder Map(IEndpointRouteBuilder api) =>
        api.MapPost("/api-keys", Endpoint)
            .WithName("CreateApiKey")
            .WithSummary("Create an API key for an app that sends events; the key is shown once.")
            .ProducesErrors(400, 401)
            .RequireAuthorization();

    private static async Task<Created<Response>> Endpoint(Command command, IMediator mediator, HttpContext http, CancellationToken ct)
    {
        var created = await mediator.Send(command with { OwnerId = CurrentUser.From(http.User)!.Id }, ct);
        return TypedResults.Created($"/api/v1/api-keys/{created.Id}", created);
    }
}
