using Analytics.Api.Infrastructure.Activity;
using Analytics.Api.Infrastructure.Clients;
using Analytics.Api.Infrastructure.OpenApi;
using Analytics.Api.Infrastructure.RateLimiting;
using Analytics.Api.Infrastructure.Results;
using Analytics.Api.Infrastructure.Security;
using Dapper;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Analytics.Api.Features.Identity.Register;

/// <summary>
/// <c>POST /auth/register</c>: creates a pending account and sends the activation e-mail. An e-mail that is
/// already registered gets 409 (docs/decisions/0003), which says nothing else about that account.
/// </summary>
public static class Register
{
    public sealed record Command(
        string Email,
        string Password,
        string? DisplayName,
        int? Age,
        Gender? Gender,
        string? ReferrerUrl,
        string? LandingPage,
        string? UtmSource,
        string? UtmMedium,
        string? UtmCampaign,
        string? UtmTerm,
        string? UtmContent) : IRequest<Result<UserView>>, IHasAttribution, IHasProfile
    {
        internal ClientContext Client { get; init; } = null!;
    }

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator(PasswordPolicy passwords)
        {
            RuleFor(c => c.Email).ValidEmail();
            RuleFor(c => c.Password).Custom((password, context) =>
            {
                if (passwords.Check(password, context.InstanceToValidate.Email) is { } problem)
                {
                    context.AddFailure(problem);
                }
            });
            Include(new ProfileValidator());
            Include(new AttributionValidator());
        }
    }

    internal sealed class Handler(NpgsqlDataSource db, IPasswordHasher hasher, Throttle throttle, CommittedChanges committed, IOptions<SignInOptions> signIn, IOptions<ActivationOptions> activation, TimeProvider clock)
        : IRequestHandler<Command, Result<UserView>>
    {
        private const string InsertUserSql = $"""
            insert into users as u (id, email, password_hash, display_name, age, gender, role, status,
                               referrer_url, landing_page, utm_source, utm_medium, utm_campaign, utm_term, utm_content,
                               created_at, updated_at)
            values (@Id, @Email, @PasswordHash, @DisplayName, @Age, @Gender, 'user', 'pending',
                    @ReferrerUrl, @LandingPage, @UtmSource, @UtmMedium, @UtmCampaign, @UtmTerm, @UtmContent,
                    @Now, @Now)
            on conflict (email) do nothing
            returning {UserView.Columns}
            """;

        public async Task<Result<UserView>> Handle(Command request, CancellationToken cancellationToken)
        {
            var limit = new RateLimitRule(signIn.Value.MaxRegistrationsPerIp, signIn.Value.ResendWindow);
            if (await throttle.HitAsync([($"register:ip:{request.Client.LimitKey}", limit)], "registrations from this address", cancellationToken) is { } refused)
            {
                return refused;
            }

            // Hash before looking at the table: a taken e-mail costs the same time as a free one.
            var hash = await hasher.HashAsync(request.Password, cancellationToken);
            var email = IdentityRules.Normalise(request.Email);
            var now = clock.GetUtcNow();

            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var row = await connection.QuerySingleOrDefaultAsync<UserView.Row>(new CommandDefinition(
                InsertUserSql,
                new
                {
                    Id = Guid.CreateVersion7(),
                    Email = email,
                    PasswordHash = hash,
                    DisplayName = string.IsNullOrWhiteSpace(request.DisplayName) ? null : request.DisplayName.Trim(),
                    Age = (short?)request.Age,
                    Gender = UserView.GenderText(request.Gender),
                    request.ReferrerUrl,
                    request.LandingPage,
                    request.UtmSource,
                    request.UtmMedium,
                    request.UtmCampaign,
                    request.UtmTerm,
                    request.UtmContent,
                    Now = now,
                },
                transaction,
                cancellationToken: cancellationToken));
            if (row is null)
            {
                return new Error(ErrorKind.Conflict, "email_taken", "E-mail already registered.", "An account with this e-mail address already exists. Sign in, or activate it with the e-mail we sent.");
            }

            await ActivationMail.SendAsync(connection, transaction, row.Id, email, activation.Value, now, cancellationToken);
            await ActivityLog.WriteAsync(connection, transaction, ActivityEntry.For(row.Id, ActivityKind.Registered, request.Client), now, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            await committed.UsersCountedAsync();
            return row.ToView();
        }
    }

    public static RouteHandlerBuilder Map(IEndpointRouteBuilder api) =>
        api.MapPost("/auth/register", Endpoint)
            .WithName("Register")
            .WithSummary("Create an account (pending until activated); sends the activation e-mail.")
            .WithDescription("A role in the body is ignored: everyone registers as 'user'. 409 when the e-mail is taken.")
            .ProducesErrors(400, 409, 429)
            .AllowAnonymous();

    private static async Task<Results<Created<UserView>, ProblemHttpResult>> Endpoint(Command command, IMediator mediator, HttpContext http, CancellationToken ct)
    {
        var result = await mediator.Send(command with { Client = ClientContext.From(http) }, ct);
        return result.IsSuccess ? TypedResults.Created("/api/v1/auth/me", result.Value) : Problems.From(result.Error!, http);
    }
}
