using System.Text.Json;
using Analytics.Api.Features.Events;
using Analytics.Api.Infrastructure.Auth;
using Microsoft.Extensions.Options;
using static Analytics.Api.Features.Events.TrackEvent.TrackEvent;

namespace Analytics.Api.Tests.Features.Events;

/// <summary>Each field rule of an event, with the exact field and message clients see (the HTTP tests cover the 400s).</summary>
public sealed class TrackEventRulesTests
{
    private static readonly Caller User = new(Guid.NewGuid(), null, Guid.NewGuid(), false);
    private static readonly Caller App = new(null, Guid.NewGuid(), Guid.NewGuid(), false);
    private static readonly Rules Check = new(TimeProvider.System, Options.Create(new EventsOptions()));

    private static Command Event(EventType? type = EventType.PageView, string? name = null, DateTimeOffset? occurredAt = null, string? url = null,
        string? referrer = null, Dictionary<string, JsonElement>? properties = null, string? sessionId = null, string? externalUserId = null,
        string? utmSource = null, string? utmContent = null, Caller? caller = null) =>
        new(null, type, name, occurredAt, url, referrer, properties, sessionId, externalUserId, utmSource, null, null, null, utmContent) { Caller = caller ?? User };

    private static Dictionary<string, JsonElement> Properties(string json) => JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(json)!;

    public static TheoryData<string, Command, string, string> Broken => new()
    {
        { "no type", Event(type: null), "Type", "Type is required: page_view, click, feature_click, login or custom." },
        { "click without name", Event(EventType.Click, name: " "), "Name", "Name is required for click, feature_click and custom events (the feature or event name)." },
        { "long name", Event(EventType.Custom, name: new string('n', 101)), "Name", "Name must have at most 100 characters." },
        { "control character", Event(name: "a\u0007b"), "Name", "Name must not contain control characters." },
        { "future", Event(occurredAt: DateTimeOffset.UtcNow.AddHours(25)), "OccurredAt", "occurredAt must not be more than 24 hours in the future." },
        { "too old", Event(occurredAt: DateTimeOffset.UtcNow.AddYears(-1).AddMinutes(-1)), "OccurredAt", "occurredAt must not be more than 1 year in the past." },
        { "long url", Event(url: new string('u', 2049)), "Url", "Url must have at most 2048 characters." },
        { "long referrer", Event(referrer: new string('r', 2049)), "Referrer", "Referrer must have at most 2048 characters." },
        { "long session", Event(sessionId: new string('s', 129)), "SessionId", "SessionId must have at most 128 characters." },
        { "long external id", Event(externalUserId: new string('x', 129), caller: App), "ExternalUserId", "ExternalUserId must have at most 128 characters." },
        { "external id from a user", Event(externalUserId: "x"), "ExternalUserId", "externalUserId is for API-key clients; a signed-in user's events are theirs." },
        { "long utm source", Event(utmSource: new string('s', 201)), "UtmSource", "utmSource must have at most 200 characters." },
        { "long utm content", Event(utmContent: new string('c', 201)), "UtmContent", "utmContent must have at most 200 characters." },
        { "nested property", Event(properties: Properties("""{"plan":{"tier":1}}""")), "Properties", "Property 'plan' must be a string, number, boolean or null: properties are flat." },
        { "empty key", Event(properties: Properties("""{"":1}""")), "Properties", "Property keys must have 1 to 64 characters ('...')." },
        { "long value", Event(properties: Properties($$"""{"k":"{{new string('v', 1025)}}"}""")), "Properties", "Property 'k' must have at most 1024 characters." },
        { "too many keys", Event(properties: Enumerable.Range(0, 51).ToDictionary(i => $"k{i}", _ => JsonSerializer.SerializeToElement(1))), "Properties", "Properties may have at most 50 keys." },
    };

    [Theory]
    [MemberData(nameof(Broken))]
    public void A_broken_rule_names_its_field_and_says_what_is_wrong(string _, Command e, string field, string message)
    {
        var failures = Check.Check(e).ShouldNotBeNull();

        failures.Select(f => (f.PropertyName, f.ErrorMessage)).ShouldBe([(field, message)]);
    }

    [Fact]
    public void Events_at_their_limits_pass_and_failures_of_several_fields_are_all_reported()
    {
        var atLimits = Event(EventType.FeatureClick, new string('n', 100), DateTimeOffset.UtcNow.AddHours(23), new string('u', 2048), new string('r', 2048),
            Enumerable.Range(0, 50).ToDictionary(i => $"k{i}", _ => JsonSerializer.SerializeToElement(new string('v', 1024))), new string('s', 128),
            new string('x', 128), new string('s', 200), new string('c', 200), App);
        Check.Check(atLimits).ShouldBeNull();

        var failures = Check.Check(Event(null, new string('n', 101), DateTimeOffset.UtcNow.AddDays(2), externalUserId: "x")).ShouldNotBeNull();
        failures.Select(f => f.PropertyName).ShouldBe(["Type", "Name", "OccurredAt", "ExternalUserId"]);
    }
}
