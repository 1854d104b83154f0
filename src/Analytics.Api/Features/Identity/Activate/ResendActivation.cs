using Analytics.Api.Infrastructure.Clients;
using Analytics.Api.Infrastructure.Database;
using Analytics.Api.Infrastructure.OpenApi;
using Analytics.Api.Infrastructure.RateLimiting;
using Analytics.Api.Infrastructure.Results;
using Dapper;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Analytics.Api.Features.Identity.Activate;

/// <summary>
/// <c>POST /auth/activation/resend</c>: a new activation e-mail for a pending account. Answers 202 whether or not
/// such an account exists, so it cannot be used to probe addresses; throttled per e-mail and per IP.
/// </summary>
public static class ResendActivation
{
    public sealed record Command(string Email) : IRequest<Result<Accepted>>
    {
        internal ClientContext Client { get; init; } = null!;
    }

    public sealed record Accepted(string Message);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(c => c.Email).ValidEmail();
    }

    internal sealed class Handler(NpgsqlDataSource db, Throttle throttle, IOptions<SignInOptions> signIn, IOptions<ActivationOptions> activation, TimeProvider clock)
        : IRequestHandler<Command, Result<Accepted>>
    {
        private const string PendingUserSql = $"select id from users where email = @Email::citext and status = 'pending' {AccountLock.Clause}";

        public async Task<Result<Accepted>> Handle(Command request, CancellationToken cancellationToken)
        {
            var email = IdentityRules.Normalise(request.Email);
            var options = signIn.Value;
            var limits = new[]
            {
                ($"resend:email:{email}", new RateLimitRule(options.MaxResendsPerEmail, options.ResendWindow)),
                ($"resend:ip:{request.Client.LimitKey}", new RateLimitRule(options.MaxResendsPerEmail * 10, options.ResendWindow)),
            };
            if (await throttle.HitAsync(limits, "activation e-mails", cancellationToken) is { } refused)
            {
                return refused;
            }

            var now = clock.GetUtcNow();
            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var userId = await connection.QuerySingleOrDefaultAsync<Guid?>(new CommandDefinition(PendingUserSql, new { Email = email }, transaction, cancellationToken: cancellationToken));
            if (userId is { } id)
            {
                await ActivationMail.SendAsync(connection, transaction, id, email, activation.Value, now, cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
            return new Accepted("If a pending account uses this address, a new activation e-mail is on its way.");
        }
    }

    public static RouteHandlerBuilder Map(IEndpointRouteBuilder api) =>
        api.MapPost("/auth/activation/resend", Endpoint)
            .WithName("ResendActivation")
            .WithSummary("Send a new activation e-mail (the earlier ones stop working).")
            .ProducesErrors(400, 429)
            .AllowAnonymous();

    private static async Task<Results<Accepted<Accepted>, ProblemHttpResult>> Endpoint(Command command, IMediator mediator, HttpContext http, CancellationToken ct) =>
        (await mediator.Send(command with { Client = ClientContext.From(http) }, ct)).AcceptedOrProblem(http);
}
