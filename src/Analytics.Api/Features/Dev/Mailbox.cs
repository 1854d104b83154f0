using Analytics.Api.Features.Identity;
using Analytics.Api.Infrastructure.Database;
using Dapper;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Analytics.Api.Features.Dev;

/// <summary><c>GET /dev/mailbox?to=</c>: the simulated e-mails sent to an address, newest first. Development only.</summary>
public static class Mailbox
{
    public sealed record Query(string To) : IRequest<IReadOnlyList<Mail>>;

    public sealed record Mail(long Id, string To, string Subject, string Body, DateTimeOffset CreatedAt, DateTimeOffset? SentAt);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(q => q.To).ValidEmail();
    }

    internal sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Query, IReadOnlyList<Mail>>
    {
        private const string Sql = """
            select id as Id, recipient as To, subject as Subject, body as Body, created_at as CreatedAt, sent_at as SentAt
            from outbox where recipient = @To::citext order by id desc limit 50
            """;

        public async Task<IReadOnlyList<Mail>> Handle(Query request, CancellationToken cancellationToken)
        {
            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            var rows = await connection.QueryAsync<Row>(new CommandDefinition(Sql, new { To = IdentityRules.Normalise(request.To) }, cancellationToken: cancellationToken));
            return [.. rows.Select(r => new Mail(r.Id, r.To, r.Subject, r.Body, r.CreatedAt.AsUtc(), r.SentAt.AsUtc()))];
        }

        private sealed record Row(long Id, string To, string Subject, string Body, DateTime CreatedAt, DateTime? SentAt);
    }

    public static IEndpointRouteBuilder MapDevMailbox(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        if (app.Environment.IsDevelopment())
        {
            app.MapGet("/dev/mailbox", Endpoint)
                .WithTags("Development")
                .WithName("DevMailbox")
                .WithSummary("Simulated e-mails sent to an address (Development environment only).")
                .ProducesValidationProblem()
                .AllowAnonymous();
        }

        return app;
    }

    private static async Task<Ok<IReadOnlyList<Mail>>> Endpoint(string to, IMediator mediator, CancellationToken ct) =>
        TypedResults.Ok(await mediator.Send(new Query(to), ct));
}
