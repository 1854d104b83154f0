using Analytics.Api.Infrastructure.Auth;
using Analytics.Api.Infrastructure.Auth.ApiKeys;
using Analytics.Api.Infrastructure.Database;
using Analytics.Api.Infrastructure.OpenApi;
using Analytics.Api.Infrastructure.Results;
using Dapper;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Analytics.Api.Features.Events.ApiKeys;

/// <summary><c>POST /api-keys</c>: a key for one of your apps. The key itself is in this answer only; it is stored hashed.</summary>
public static class CreateApiKey
{
    public const int MaxNameLength = 100;

    public sealed record Command(string Name) : IRequest<Result<Response>>
    {
        internal Guid OwnerId { get; init; }
    }

    public sealed record Response(Guid Id, string Name, string Key, string Prefix, DateTimeOffset CreatedAt);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(c => c.Name).NotEmpty().WithMessage("Name is required.")
            .MaximumLength(MaxNameLength).WithMessage($"Name must have at most {MaxNameLength} characters.");
    }

    internal sealed class Handler(NpgsqlDataSource db, IOptions<EventsOptions> options, TimeProvider clock) : IRequestHandler<Command, Result<Response>>
    {
        // Each key has its own ingestion budget, so the number a user holds is capped; the owner's row is locked so
        // that concurrent creations count each other.
        private const string InsertSql = """
            insert into api_keys (id, user_id, name, public_id, secret_hash, created_at)
            select @Id, @OwnerId, @Name, @PublicId, @SecretHash, @Now
            where (select count(*) from api_keys where user_id = @OwnerId and revoked_at is null) < @Max
            """;

        public async Task<Result<Response>> Handle(Command request, CancellationToken cancellationToken)
        {
            var (key, publicId, secretHash) = ApiKeyFormat.New();
            var id = Guid.CreateVersion7();
            var now = clock.GetUtcNow();
            var max = options.Value.MaxApiKeysPerUser;
            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await AccountLock.LockAsync(connection, transaction, request.OwnerId, cancellationToken);
            var inserted = await connection.ExecuteAsync(new CommandDefinition(InsertSql, new { Id = id, request.OwnerId, Name = request.Name.Trim(), PublicId = publicId, SecretHash = secretHash, Now = now, Max = max }, transaction, cancellationToken: cancellationToken)) == 1;
            await transaction.CommitAsync(cancellationToken);
            return inserted
                ? new Response(id, request.Name.Trim(), key, ApiKeyFormat.Prefix + publicId, now)
                : new Error(ErrorKind.Conflict, "too_many_api_keys", "Too many API keys.", $"A user may hold {max} API keys at once; revoke one you no longer use first.");
        }
    }

    public static RouteHandlerBuilder Map(IEndpointRouteBuilder api) =>
        api.MapPost("/api-keys", Endpoint)
            .WithName("CreateApiKey")
            .WithSummary("Create an API key for an app that sends events; the key is shown once.")
            .ProducesErrors(400, 401, 409)
            .RequireAuthorization();

    private static async Task<Results<Created<Response>, ProblemHttpResult>> Endpoint(Command command, IMediator mediator, HttpContext http, CancellationToken ct)
    {
        var result = await mediator.Send(command with { OwnerId = CurrentUser.From(http.User)!.Id }, ct);
        return result.IsSuccess ? TypedResults.Created($"/api/v1/api-keys/{result.Value!.Id}", result.Value) : Problems.From(result.Error!, http);
    }
}
