using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Analytics.Api.Features.Identity;
using Analytics.Api.Infrastructure.Auth;
using Analytics.Api.Infrastructure.Auth.ApiKeys;
using Analytics.Api.Infrastructure.Clients;
using Analytics.Api.Infrastructure.Errors;
using Analytics.Api.Infrastructure.OpenApi;
using Analytics.Api.Infrastructure.RateLimiting;
using Analytics.Api.Infrastructure.Results;
using FluentValidation;
using FluentValidation.Results;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Analytics.Api.Features.Events.TrackEvent;

/// <summary>
/// <c>POST /events</c> and <c>POST /events/batch</c>: events from a signed-in user (JWT; the event is theirs) or a
/// client app (API key; the event may name an external user). 202 means committed to PostgreSQL. A client
/// id makes retries idempotent: the retry is answered as the first time and stored once.
/// </summary>
public static class TrackEvent
{
    public const int MaxNameLength = 100;
    public const int MaxIdLength = 128;
    public const int MaxUrlLength = 2048;

    /// <summary>The rate-limiter policy that admits a bounded number of batch requests at once (the rest wait unread).</summary>
    public const string BatchConcurrency = "events-batch";

    /// <summary>One event as a client sends it.</summary>
    public sealed record Command(
        Guid? Id,
        [property: System.ComponentModel.DataAnnotations.Required] EventType? Type,
        string? Name,
        DateTimeOffset? OccurredAt,
        string? Url,
        string? Referrer,
        Dictionary<string, JsonElement>? Properties,
        string? SessionId,
        string? ExternalUserId,
        string? UtmSource,
        string? UtmMedium,
        string? UtmCampaign,
        string? UtmTerm,
        string? UtmContent)
    {
        // Set by the endpoint (and, for batch items, by the intake without copying the event).
        internal Caller Caller { get; set; } = null!;

        internal ClientContext Client { get; set; } = null!;
    }

    public sealed record Accepted(Guid Id, string Status);

    public sealed record Batch([property: System.ComponentModel.DataAnnotations.Required] IReadOnlyList<Command>? Events)
    {
        internal Caller Caller { get; init; } = null!;

        internal ClientContext Client { get; init; } = null!;
    }

    /// <summary>One entry per sent event, in order: <c>accepted</c>, <c>duplicate</c> or <c>rejected</c> with the reasons.</summary>
    public sealed record BatchResult(int Accepted, int Duplicates, int Rejected, IReadOnlyList<ItemResult> Items);

    public sealed record ItemResult(int Index, Guid? Id, string Status, IReadOnlyDictionary<string, string[]>? Errors);

    /// <summary>
    /// The field rules of one event. Hand-written rather than a FluentValidation validator (ADR 13): every single
    /// event and every item of a batch passes here, and the rule objects cost ~5 µs per event (a twentieth of a
    /// single event's API time; 2.5 ms per 500-event batch). The failures are FluentValidation's own type, so they
    /// reach clients exactly as every other 400 does.
    /// </summary>
    public sealed class Rules(TimeProvider clock, IOptions<EventsOptions> options)
    {
        /// <summary>The failures, in rule order; null when the event is valid.</summary>
        public List<ValidationFailure>? Check(Command e)
        {
            ArgumentNullException.ThrowIfNull(e);
            var limits = options.Value;
            var now = clock.GetUtcNow();
            List<ValidationFailure>? failures = null;
            void Fail(string property, string message) => (failures ??= []).Add(new ValidationFailure(property, message));

            // JSON's enum reading also takes comma-joined names ("click, custom") as a combination that is none of them.
            if (e.Type is null || !Enum.IsDefined(e.Type.Value))
            {
                Fail(nameof(e.Type), e.Type is null ? "Type is required: page_view, click, feature_click, login or custom." : "Type must be one of page_view, click, feature_click, login or custom.");
            }
            else if (e.Type is EventType.Click or EventType.FeatureClick or EventType.Custom && string.IsNullOrWhiteSpace(e.Name))
            {
                Fail(nameof(e.Name), "Name is required for click, feature_click and custom events (the feature or event name).");
            }

            if (e.Name is { } name)
            {
                if (name.Length > MaxNameLength)
                {
                    Fail(nameof(e.Name), $"Name must have at most {MaxNameLength} characters.");
                }

                if (name.Any(char.IsControl))
                {
                    Fail(nameof(e.Name), "Name must not contain control characters.");
                }
            }

            if (e.OccurredAt > now.AddHours(24))
            {
                Fail(nameof(e.OccurredAt), "occurredAt must not be more than 24 hours in the future.");
            }
            else if (e.OccurredAt < now.AddYears(-1))
            {
                Fail(nameof(e.OccurredAt), "occurredAt must not be more than 1 year in the past.");
            }

            foreach (var (property, value, maxLength) in (ReadOnlySpan<(string, string?, int)>)[
                (nameof(e.Url), e.Url, MaxUrlLength), (nameof(e.Referrer), e.Referrer, MaxUrlLength),
                (nameof(e.SessionId), e.SessionId, MaxIdLength), (nameof(e.ExternalUserId), e.ExternalUserId, MaxIdLength)])
            {
                if (value?.Length > maxLength)
                {
                    Fail(property, $"{property} must have at most {maxLength} characters.");
                }
                else if (HasNul(value))
                {
                    Fail(property, NulRefused(property));
                }
            }

            if (e.ExternalUserId is not null && e.Caller is { ApiKeyId: null })
            {
                Fail(nameof(e.ExternalUserId), "externalUserId is for API-key clients; a signed-in user's events are theirs.");
            }

            foreach (var (property, value) in (ReadOnlySpan<(string, string?)>)[
                (nameof(e.UtmSource), e.UtmSource), (nameof(e.UtmMedium), e.UtmMedium), (nameof(e.UtmCampaign), e.UtmCampaign),
                (nameof(e.UtmTerm), e.UtmTerm), (nameof(e.UtmContent), e.UtmContent)])
            {
                if (value?.Length > IdentityRules.MaxUtmLength)
                {
                    Fail(property, IdentityRules.UtmTooLong(JsonNamingPolicy.CamelCase.ConvertName(property)));
                }
                else if (HasNul(value))
                {
                    Fail(property, NulRefused(property));
                }
            }

            if (e.Properties is not { } properties)
            {
                return failures;
            }

            if (properties.Count > limits.MaxPropertyCount)
            {
                Fail(nameof(e.Properties), $"Properties may have at most {limits.MaxPropertyCount} keys.");
            }

            foreach (var (key, value) in properties)
            {
                if (key.Length == 0 || key.Length > limits.MaxPropertyKeyLength)
                {
                    Fail(nameof(e.Properties), $"Property keys must have 1 to {limits.MaxPropertyKeyLength} characters ('{key[..Math.Min(key.Length, limits.MaxPropertyKeyLength)]}...').");
                }
                else if (HasNul(key))
                {
                    Fail(nameof(e.Properties), NulRefused("Property keys"));
                }
                else if (value.ValueKind is JsonValueKind.Object or JsonValueKind.Array)
                {
                    Fail(nameof(e.Properties), $"Property '{key}' must be a string, number, boolean or null: properties are flat.");
                }
                else if (value.ValueKind == JsonValueKind.String)
                {
                    if (TextOf(value) is not { } text)
                    {
                        Fail(nameof(e.Properties), $"Property '{key}' must be valid Unicode text (it holds an unpaired surrogate escape).");
                    }
                    else if (text.Length > limits.MaxPropertyValueLength)
                    {
                        Fail(nameof(e.Properties), $"Property '{key}' must have at most {limits.MaxPropertyValueLength} characters.");
                    }
                    else if (HasNul(text))
                    {
                        Fail(nameof(e.Properties), NulRefused($"Property '{key}'"));
                    }
                }
                else if (value.ValueKind == JsonValueKind.Number && !IsDoubleNumber(value))
                {
                    Fail(nameof(e.Properties), $"Property '{key}' must be a number within a double's range (about ±1.7e308; a nonzero one at least about 5e-324 in size) written in at most {MaxNumberLength} characters, with an exponent within ±{MaxExponent}.");
                }
            }

            return failures;
        }

        private const int MaxNumberLength = 400;

        private const int MaxExponent = 1000;

        // What a double holds, PostgreSQL's jsonb (numeric: up to 16,383 digits after the point) stores. Refused here, so
        // that in a batch only the event that sent it is rejected (the database's refusal fails the whole request): a
        // number beyond a double, a nonzero one that a double reads as 0 ("1e-16384", "0.000…1"), and one whose digits go
        // on past what a double keeps.
        private static bool IsDoubleNumber(JsonElement value)
        {
            // The number as the body spells it, read in place (no string per number on the ingestion path).
            var raw = JsonMarshal.GetRawUtf8Value(value);
            if (raw.Length > MaxNumberLength || !value.TryGetDouble(out var number) || !double.IsFinite(number))
            {
                return false;
            }

            // PostgreSQL's numeric refuses an exponent beyond ±1000 whatever the digits ("0e-16384" is a zero to a double).
            var at = raw.IndexOfAny((byte)'e', (byte)'E');
            if (at >= 0 && !(int.TryParse(raw[(at + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var exponent) && Math.Abs(exponent) <= MaxExponent))
            {
                return false;
            }

            return number != 0 || !raw[..(at >= 0 ? at : raw.Length)].ContainsAnyInRange((byte)'1', (byte)'9');
        }

        // JsonElement checks a string's escapes only when it is read: an unpaired surrogate ("\ud800") throws there.
        private static string? TextOf(JsonElement value)
        {
            try
            {
                return value.GetString();
            }
            catch (InvalidOperationException)
            {
                return null;
            }
        }

        // PostgreSQL's text and jsonb cannot hold U+0000: one such event in a group commit would fail the whole group.
        private static bool HasNul(string? value) => value is not null && value.Contains('\0', StringComparison.Ordinal);

        private static string NulRefused(string subject) => $"{subject} must not contain the NUL character (U+0000): PostgreSQL cannot store it.";
    }

    internal sealed class BatchValidator : AbstractValidator<Batch>
    {
        public BatchValidator(IOptions<EventsOptions> options) =>
            RuleFor(b => b.Events).NotEmpty().WithMessage("Events is required: a non-empty array of events.")
                .Must(e => e is null || e.Count <= options.Value.MaxBatchSize).WithMessage($"A batch may hold at most {options.Value.MaxBatchSize} events.");
    }

    /// <summary>
    /// Ingestion's hot path (ADR 13): the endpoints and the hub call this singleton directly instead of sending
    /// through <c>IMediator</c>. An event is checked by <see cref="Rules"/>, a batch's envelope by its validator; failures
    /// throw the <see cref="ValidationException"/> the pipeline's behaviour would, so clients get the same 400.
    /// </summary>
    public sealed class Intake(EventBatchWriter writer, IRateLimitStore limits, IOptions<EventsOptions> options, Rules rules, IValidator<Batch> batchValidator, TimeProvider clock)
    {
        public async Task<Result<Accepted>> TrackAsync(Command request, CancellationToken cancellationToken)
        {
            ThrowIfInvalid(rules.Check(request));
            if (await RefusedAsync(request.Caller, 1, cancellationToken) is { } refused)
            {
                return refused;
            }

            var row = ToRow(request, request.Caller, request.Client, clock.GetUtcNow());
            await writer.WriteAsync([row], cancellationToken);

            // A retry of a stored id gets the answer the first attempt got.
            return new Accepted(row.Id, "accepted");
        }

        public async Task<Result<BatchResult>> TrackAsync(Batch request, CancellationToken cancellationToken)
        {
            ThrowIfInvalid(batchValidator.Validate(request).Errors);
            var events = request.Events!;
            if (await RefusedAsync(request.Caller, events.Count, cancellationToken) is { } refused)
            {
                return refused;
            }

            var now = clock.GetUtcNow();
            var items = new ItemResult[events.Count];
            var rows = new List<(int Index, EventRow Row)>();
            for (var i = 0; i < events.Count; i++)
            {
                var item = events[i];
                if (item is not null)
                {
                    item.Caller = request.Caller;
                    item.Client = request.Client;
                }

                var failures = item is null ? [new ValidationFailure("", "The event must be a JSON object.")] : rules.Check(item);
                if (failures is not null)
                {
                    items[i] = new ItemResult(i, item?.Id, "rejected", FieldErrors.From(failures));
                    continue;
                }

                rows.Add((i, ToRow(item!, request.Caller, request.Client, now)));
            }

            var stored = await writer.WriteAsync([.. rows.Select(r => r.Row)], cancellationToken);
            for (var j = 0; j < rows.Count; j++)
            {
                items[rows[j].Index] = new ItemResult(rows[j].Index, rows[j].Row.Id, stored[j] ? "accepted" : "duplicate", null);
            }

            return new BatchResult(items.Count(i => i.Status == "accepted"), items.Count(i => i.Status == "duplicate"), items.Count(i => i.Status == "rejected"), items);
        }

        // One token per event, taken in one step: a batch of 500 costs what 500 single events do.
        // An API key has its budget; a signed-in user sending with their access token has theirs (registration is
        // open, so an unlimited one would let anyone flood the store).
        private async Task<Error?> RefusedAsync(Caller caller, int events, CancellationToken ct)
        {
            var o = options.Value;
            var (key, rule, who) = caller.ApiKeyId is { } keyId
                ? ($"ingest:key:{keyId:N}", new RateRule(o.ApiKeyRatePerSecond, o.ApiKeyBurst), "This API key")
                : ($"ingest:user:{caller.OwnerId:N}", new RateRule(o.UserRatePerSecond, o.UserBurst), "A signed-in user");
            var decision = await limits.HitRateAsync(key, rule, events, ct);
            return decision.Allowed
                ? null
                : new Error(ErrorKind.TooManyRequests, "rate_limited", "Too many events.", $"{who} may send {rule.PerSecond:0} events per second (bursts of {rule.Burst}); slow down.", decision.RetryAfter)
                {
                    RateLimit = decision,
                };
        }

        // As the pipeline's ValidationBehavior does: the exception handler turns it into the 400 ValidationProblem.
        private static void ThrowIfInvalid(List<ValidationFailure>? failures)
        {
            if (failures is { Count: > 0 })
            {
                throw new ValidationException(failures);
            }
        }

        /// <summary>The row stored for <paramref name="e"/>, a valid event sent by <paramref name="caller"/> from <paramref name="client"/>.</summary>
        public static EventRow ToRow(Command e, Caller caller, ClientContext client, DateTimeOffset now)
        {
            var id = e.Id ?? EventIds.NewVersion7(now);
            var occurredAt = (e.OccurredAt ?? now).ToUniversalTime();
            var properties = e.Properties is { Count: > 0 } p ? JsonSerializer.Serialize(p) : null;
            return new EventRow(
                id, e.Id is not null, occurredAt, e.Type!.Value, string.IsNullOrWhiteSpace(e.Name) ? null : e.Name.Trim(), caller.UserId, caller.ApiKeyId, caller.OwnerId,
                e.ExternalUserId, e.SessionId, e.Url, e.Referrer, properties, client.Ip, client.UserAgent,
                client.Agent.DeviceType, client.Agent.Browser, client.Agent.Os,
                e.UtmSource, e.UtmMedium, e.UtmCampaign, e.UtmTerm, e.UtmContent, e.Properties);
        }
    }

    public static IEndpointRouteBuilder Map(IEndpointRouteBuilder api)
    {
        api.MapPost("/events", Single)
            .WithName("TrackEvent")
            .WithSummary("Record one event (202 once committed). By JWT or API key.")
            .WithDescription("A client-supplied id makes retries idempotent. 429 with Retry-After when an API key exceeds its rate.")
            .ProducesErrors(400, 401, 413, 415, 429, 503)
            .RequireUserOrApiKey();
        api.MapPost("/events/batch", Many)
            .WithName("TrackEventBatch")
            .WithSummary("Record up to 1,000 events (1 MB) at once; each is reported accepted, duplicate or rejected with reasons.")
            .WithDescription("One bad event does not reject the others. 202 when anything was accepted or was a duplicate; 400 when every event was rejected. 503 with Retry-After when too many batches wait.")
            .RequireRateLimiting(BatchConcurrency)
            .ProducesErrors(400, 401, 413, 415, 429, 503)
            .RequireUserOrApiKey();
        return api;
    }

    private static async Task<Results<Accepted<Accepted>, ProblemHttpResult>> Single(Command command, Intake intake, HttpContext http, CancellationToken ct) =>
        (await intake.TrackAsync(command with { Caller = Caller.From(http.User), Client = ClientContext.From(http) }, ct)).AcceptedOrProblem(http);

    private static async Task<Results<Accepted<BatchResult>, BadRequest<BatchResult>, ProblemHttpResult>> Many(Batch batch, Intake intake, HttpContext http, CancellationToken ct)
    {
        var result = await intake.TrackAsync(batch with { Caller = Caller.From(http.User), Client = ClientContext.From(http) }, ct);
        if (!result.IsSuccess)
        {
            return Problems.From(result.Error!, http);
        }

        return result.Value!.Rejected == result.Value.Items.Count ? TypedResults.BadRequest(result.Value) : TypedResults.Accepted((string?)null, result.Value);
    }
}
