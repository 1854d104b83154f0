using System.Globalization;
using System.Text;
using Analytics.Api.Features.Identity;
using Analytics.Api.Infrastructure.OpenApi;
using Analytics.Api.Infrastructure.Pipeline;
using Analytics.Api.Infrastructure.Results;
using Dapper;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Analytics.Api.Features.Users.ListUsers;

/// <summary><c>GET /admin/users</c>: newest first, filtered, with an opaque cursor for the next page.</summary>
public static class ListUsers
{
    public sealed record Query(string? Role, string? Status, string? Email, DateTimeOffset? RegisteredFrom, DateTimeOffset? RegisteredTo, string? Cursor, int? Limit) : IRequest<Result<Page>>;

    public sealed record Page(IReadOnlyList<AdminUserView> Items, string? NextCursor);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(q => q.Role).Must(r => r is null or "user" or "admin").WithMessage("Role must be 'user' or 'admin'.");
            RuleFor(q => q.Status).Must(s => s is null or "pending" or "active" or "disabled").WithMessage("Status must be 'pending', 'active' or 'disabled'.");
            RuleFor(q => q.Email).MaximumLength(IdentityRules.MaxEmailLength).WithMessage($"Email search must have at most {IdentityRules.MaxEmailLength} characters.")
                .NoControlCharacters("Email search");
            RuleFor(q => q.Limit).InclusiveBetween(1, 200).WithMessage("Limit must be between 1 and 200.");
            RuleFor(q => q.Cursor).Must(c => c is null || Cursor.TryParse(c, out _)).WithMessage("Cursor is not one this API returned.");
            RuleFor(q => q).Must(q => q.RegisteredFrom is null || q.RegisteredTo is null || q.RegisteredFrom <= q.RegisteredTo)
                .WithName("registeredFrom").WithMessage("registeredFrom must not be after registeredTo.");
        }
    }

    internal sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Query, Result<Page>>
    {
        // Optional filters as "@X is null or ..." keep one static statement; (created_at, id) makes the order total for the cursor.
        // Planned with its values every time: a generic plan cannot use the cursor, the dates or the e-mail's trigram
        // index (users_email_trgm, on email::text) as index conditions, and PostgreSQL may switch a prepared statement
        // to one after five executions. At 1M users, a page 20 days back under the generic plan: 3.5 s (a parallel
        // scan from the newest user) against 0.2 ms planned with its values. SET LOCAL holds for this batch, which
        // PostgreSQL runs as one implicit transaction.
        private const string Sql = $"""
            set local plan_cache_mode = force_custom_plan;
            select {AdminUserView.Columns}
            from users u
            where (@Role is null or u.role = @Role)
              and (@Status is null or u.status = @Status)
              and (@EmailPattern is null or u.email::text ilike @EmailPattern escape '\')
              and (@RegisteredFrom is null or u.created_at >= @RegisteredFrom)
              and (@RegisteredTo is null or u.created_at < @RegisteredTo)
              and (@AfterCreatedAt is null or (u.created_at, u.id) < (@AfterCreatedAt, @AfterId))
            order by u.created_at desc, u.id desc
            limit @Take
            """;

        public async Task<Result<Page>> Handle(Query request, CancellationToken cancellationToken)
        {
            var limit = request.Limit ?? 50;
            // The validator already refused a cursor that does not parse.
            _ = Cursor.TryParse(request.Cursor, out var after);
            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            var rows = (await connection.QueryAsync<AdminUserView.Row>(new CommandDefinition(
                Sql,
                new
                {
                    request.Role,
                    request.Status,
                    EmailPattern = request.Email is { Length: > 0 } email ? $"%{Escape(email)}%" : null,
                    // Npgsql accepts only UTC offsets for timestamptz; a client may send any offset.
                    RegisteredFrom = request.RegisteredFrom?.ToUniversalTime(),
                    RegisteredTo = request.RegisteredTo?.ToUniversalTime(),
                    AfterCreatedAt = after is null ? (DateTimeOffset?)null : new DateTimeOffset(after.CreatedAt),
                    AfterId = after?.Id,
                    Take = limit + 1,
                },
                cancellationToken: cancellationToken))).ToList();
            var next = rows.Count > limit ? Cursor.Format(rows[limit - 1].CreatedAt, rows[limit - 1].Id) : null;
            return new Page([.. rows.Take(limit).Select(r => r.ToView())], next);
        }

        private static string Escape(string text) => text.Replace(@"\", @"\\", StringComparison.Ordinal).Replace("%", @"\%", StringComparison.Ordinal).Replace("_", @"\_", StringComparison.Ordinal);
    }

    /// <summary>The position after the last item of a page: its creation time and id, base64url-encoded.</summary>
    internal sealed record Cursor(DateTime CreatedAt, Guid Id)
    {
        public static string Format(DateTime createdAt, Guid id) =>
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"{createdAt.Ticks.ToString(CultureInfo.InvariantCulture)}:{id:N}")).TrimEnd('=').Replace('+', '-').Replace('/', '_');

        public static bool TryParse(string? text, out Cursor? cursor)
        {
            cursor = null;
            if (string.IsNullOrEmpty(text) || text.Length > 100)
            {
                return text is null;
            }

            try
            {
                var padded = text.Replace('-', '+').Replace('_', '/') + new string('=', (4 - (text.Length % 4)) % 4);
                var parts = Encoding.UTF8.GetString(Convert.FromBase64String(padded)).Split(':');
                if (parts.Length == 2 && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
                    && ticks is > 0 && ticks < 3155378975999999999 && Guid.TryParseExact(parts[1], "N", out var id))
                {
                    cursor = new Cursor(new DateTime(ticks, DateTimeKind.Utc), id);
                    return true;
                }
            }
            catch (FormatException)
            {
            }

            return false;
        }
    }

    public static RouteHandlerBuilder Map(IEndpointRouteBuilder admin) =>
        admin.MapGet("/users", Endpoint)
            .WithName("ListUsers")
            .WithSummary("Users, newest first; filter by role, status, e-mail (substring) and registration time; page with nextCursor.")
            .ProducesErrors(400, 401, 403);

    private static async Task<Results<Ok<Page>, ProblemHttpResult>> Endpoint(
        IMediator mediator, HttpContext http, CancellationToken ct, string? role = null, string? status = null, string? email = null,
        DateTimeOffset? registeredFrom = null, DateTimeOffset? registeredTo = null, string? cursor = null, int? limit = null) =>
        (await mediator.Send(new Query(role, status, email, registeredFrom, registeredTo, cursor, limit), ct)).OkOrProblem(http);
}
