using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Analytics.Api.Tests.Infrastructure;

namespace Analytics.Api.Tests.Features.Events;

/// <summary>
/// The live stream over SSE and the SignalR hub. Other tests publish events on the same Redis at the same time, so
/// every check looks for its own event ids. "Does not get" is shown with a sentinel: the bus delivers a node's events
/// one batch at a time in order, so once a later event arrives, an earlier one it should have seen has come too.
/// </summary>
public sealed class LiveStreamTests(TestDatabase database) : IAsyncDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly ApiFactory _api = new(database);

    public ValueTask DisposeAsync() => _api.DisposeAsync();

    [Fact]
    public async Task Sse_subscriber_gets_an_event_posted_after_it_connected_as_camel_case_json()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);
        await using var stream = await SseSubscriber.OpenAsync(client, "/api/v1/events/stream", user.AccessToken);
        var id = Guid.NewGuid();

        await PostAsync(client, user.AccessToken, new { id, type = "feature_click", name = "date_filter", properties = new { range = "30d" } });
        var e = (await stream.ReadUntilAsync(id).WaitAsync(Patience)).Last();

        stream.Response.Content.Headers.ContentType!.MediaType.ShouldBe("text/event-stream");
        stream.Response.Headers.CacheControl!.NoCache.ShouldBeTrue();
        e.GetProperty("type").GetString().ShouldBe("feature_click");
        e.GetProperty("name").GetString().ShouldBe("date_filter");
        e.GetProperty("userId").GetGuid().ShouldBe(user.UserId);
        e.GetProperty("properties").GetProperty("range").GetString().ShouldBe("30d");
        e.GetProperty("receivedAt").GetString()!.ShouldEndWith("Z");
    }

    [Fact]
    public async Task Sse_filters_by_type_and_by_name()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);
        await using var all = await SseSubscriber.OpenAsync(client, "/api/v1/events/stream", user.AccessToken);
        await using var clicks = await SseSubscriber.OpenAsync(client, "/api/v1/events/stream?type=click", user.AccessToken);
        await using var buys = await SseSubscriber.OpenAsync(client, "/api/v1/events/stream?name=buy", user.AccessToken);
        await using var clickedBuys = await SseSubscriber.OpenAsync(client, "/api/v1/events/stream?type=click&name=buy", user.AccessToken);
        var (view, clickOther, featureBuy, clickBuy, sentinel) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());

        await PostAsync(client, user.AccessToken, new { id = view, type = "page_view" });
        await PostAsync(client, user.AccessToken, new { id = clickOther, type = "click", name = "other" });
        await PostAsync(client, user.AccessToken, new { id = featureBuy, type = "feature_click", name = "buy" });
        await PostAsync(client, user.AccessToken, new { id = clickBuy, type = "click", name = "buy" });
        await all.ReadUntilAllAsync(view, clickOther, featureBuy, clickBuy).WaitAsync(Patience);
        await PostAsync(client, user.AccessToken, new { id = sentinel, type = "click", name = "buy" });

        Ids(await clicks.ReadUntilAsync(sentinel).WaitAsync(Patience)).ShouldBe([clickOther, clickBuy, sentinel], ignoreOrder: true);
        Ids(await buys.ReadUntilAsync(sentinel).WaitAsync(Patience)).ShouldBe([featureBuy, clickBuy, sentinel], ignoreOrder: true);
        Ids(await clickedBuys.ReadUntilAsync(sentinel).WaitAsync(Patience)).ShouldBe([clickBuy, sentinel], ignoreOrder: true);
    }

    [Fact]
    public async Task Sse_shows_a_user_their_own_events_an_api_key_its_own_and_an_admin_all()
    {
        var client = _api.CreateClient();
        var a = await client.SignUpAsync(database);
        var b = await client.SignUpAsync(database);
        var admin = await client.SignUpAdminAsync(database);
        var key = await (await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/api-keys", a.AccessToken, new { name = "live" }))).JsonAsync();
        var apiKey = key.GetProperty("key").GetString()!;
        await using var ofA = await SseSubscriber.OpenAsync(client, "/api/v1/events/stream", a.AccessToken);
        // Browsers' EventSource cannot send headers: the credentials come in the query string.
        await using var ofAdmin = await SseSubscriber.OpenAsync(client, $"/api/v1/events/stream?access_token={admin.AccessToken}");
        await using var ofKey = await SseSubscriber.OpenAsync(client, $"/api/v1/events/stream?api_key={Uri.EscapeDataString(apiKey)}");
        var (byA, byB, byKey) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());

        await PostAsync(client, a.AccessToken, new { id = byA, type = "page_view" });
        await PostAsync(client, b.AccessToken, new { id = byB, type = "page_view" });
        await PostAsync(client, apiKey, new { id = byKey, type = "page_view", externalUserId = "visitor-1" });
        var seenByAdmin = await ofAdmin.ReadUntilAllAsync(byA, byB, byKey).WaitAsync(Patience);
        var (sentinelA, sentinelKey) = (Guid.NewGuid(), Guid.NewGuid());
        await PostAsync(client, a.AccessToken, new { id = sentinelA, type = "page_view" });
        await PostAsync(client, apiKey, new { id = sentinelKey, type = "page_view" });

        Ids(await ofA.ReadUntilAsync(sentinelA).WaitAsync(Patience)).ShouldBe([byA, sentinelA], ignoreOrder: true);
        var seenByKey = await ofKey.ReadUntilAsync(sentinelKey).WaitAsync(Patience);
        Ids(seenByKey).ShouldBe([byKey, sentinelKey], ignoreOrder: true);
        seenByKey.First(e => e.GetProperty("id").GetGuid() == byKey).GetProperty("apiKeyId").GetGuid().ShouldBe(key.GetProperty("id").GetGuid());
        seenByAdmin.Single(e => e.GetProperty("id").GetGuid() == byB).GetProperty("userId").GetGuid().ShouldBe(b.UserId);
    }

    [Fact]
    public async Task Sse_subscriber_on_one_node_gets_an_event_accepted_by_another_node()
    {
        await using var otherNode = new ApiFactory(database);
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);
        await using var stream = await SseSubscriber.OpenAsync(client, "/api/v1/events/stream", user.AccessToken);
        var id = Guid.NewGuid();

        await PostAsync(otherNode.CreateClient(), user.AccessToken, new { id, type = "login" });

        (await stream.ReadUntilAsync(id).WaitAsync(Patience)).Last().GetProperty("type").GetString().ShouldBe("login");
    }

    [Fact]
    public async Task Sse_sends_a_keep_alive_comment_when_quiet()
    {
        await using var api = new ApiFactory(database, new Dictionary<string, string?> { ["Events:LiveHeartbeat"] = "00:00:00.100" });
        var client = api.CreateClient();
        var user = await client.SignUpAsync(database);
        await using var stream = await SseSubscriber.OpenAsync(client, "/api/v1/events/stream", user.AccessToken);

        (await stream.ReadLineAsync().WaitAsync(Patience)).ShouldBe(": keep-alive");
    }

    [Fact]
    public async Task Sse_without_credentials_is_401_and_with_an_unknown_type_is_400()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);

        var anonymous = await client.GetAsync(new Uri("/api/v1/events/stream", UriKind.Relative));
        var badToken = await client.GetAsync(new Uri("/api/v1/events/stream?access_token=not-a-token", UriKind.Relative));
        var badType = await client.SendAsync(HttpMethod.Get.Authorized("/api/v1/events/stream?type=teleport", user.AccessToken));

        await anonymous.ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
        await badToken.ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
        (await badType.ShouldBeProblemAsync(HttpStatusCode.BadRequest)).GetProperty("errors").GetProperty("type")[0].GetString()!.ShouldContain("page_view");
    }

    [Fact]
    public async Task Sse_is_described_in_the_openapi_document_as_text_event_stream()
    {
        var document = await (await _api.CreateClient().GetAsync(new Uri("/openapi/v1.json", UriKind.Relative))).JsonAsync();

        var responses = document.GetProperty("paths").GetProperty("/api/v1/events/stream").GetProperty("get").GetProperty("responses");
        responses.GetProperty("200").GetProperty("content").TryGetProperty("text/event-stream", out _).ShouldBeTrue();
        responses.TryGetProperty("401", out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Credentials_in_the_query_string_are_refused_outside_the_live_streams()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);
        var apiKey = (await (await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/api-keys", user.AccessToken, new { name = "q" }))).JsonAsync()).GetProperty("key").GetString()!;

        var me = await client.GetAsync(new Uri($"/api/v1/auth/me?access_token={user.AccessToken}", UriKind.Relative));
        var track = await client.PostAsync(new Uri($"/api/v1/events?api_key={Uri.EscapeDataString(apiKey)}", UriKind.Relative), new StringContent("""{"type":"page_view"}""", Encoding.UTF8, "application/json"));

        await me.ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
        await track.ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Hub_newEvent_answers_the_sender_and_broadcasts_to_it_but_not_to_another_user()
    {
        var client = _api.CreateClient();
        var a = await client.SignUpAsync(database);
        var b = await client.SignUpAsync(database);
        await using var hubA = await HubClient.ConnectAsync(_api, $"access_token={a.AccessToken}");
        await using var hubB = await HubClient.ConnectAsync(_api, $"access_token={b.AccessToken}");
        var (fromA, fromB) = (Guid.NewGuid(), Guid.NewGuid());

        await hubA.InvokeAsync("1", "newEvent", new { id = fromA, type = "click", name = "buy", properties = new { plan = "pro" } });
        var seenByA = await hubA.ReadUntilAsync(m => IsCompletion(m, "1"), m => IsEvent(m, fromA)).WaitAsync(Patience);
        await hubB.InvokeAsync("1", "newEvent", new { id = fromB, type = "page_view" });
        var seenByB = await hubB.ReadUntilAsync(m => IsCompletion(m, "1"), m => IsEvent(m, fromB)).WaitAsync(Patience);

        var result = seenByA.Single(m => IsCompletion(m, "1")).GetProperty("result");
        result.GetProperty("id").GetGuid().ShouldBe(fromA);
        result.GetProperty("status").GetString().ShouldBe("accepted");
        var broadcast = seenByA.Single(m => IsEvent(m, fromA)).GetProperty("arguments")[0];
        broadcast.GetProperty("type").GetString().ShouldBe("click");
        broadcast.GetProperty("userId").GetGuid().ShouldBe(a.UserId);
        broadcast.GetProperty("properties").GetProperty("plan").GetString().ShouldBe("pro");
        seenByB.ShouldNotContain(m => IsEvent(m, fromA));
        (await database.ScalarAsync<long>("select count(*) from events where id = @fromA and user_id = @UserId", new { fromA, a.UserId })).ShouldBe(1);
    }

    [Fact]
    public async Task Hub_newEvent_with_an_invalid_event_completes_with_the_validation_errors()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);
        await using var hub = await HubClient.ConnectAsync(_api, $"access_token={user.AccessToken}");

        await hub.InvokeAsync("7", "newEvent", new { type = "click" });
        var completion = (await hub.ReadUntilAsync(m => IsCompletion(m, "7")).WaitAsync(Patience)).Last();

        completion.TryGetProperty("result", out _).ShouldBeFalse();
        completion.GetProperty("error").GetString()!.ShouldContain("name: Name is required");

        // A number PostgreSQL could not store (a double reads it as 0): refused by the rules, as over HTTP.
        var tiny = "0." + new string('0', 20_000) + "1";
        await hub.InvokeAsync("8", "newEvent", JsonDocument.Parse($$$"""{"type":"custom","name":"tiny","properties":{"n":{{{tiny}}}}}""").RootElement);
        var refused = (await hub.ReadUntilAsync(m => IsCompletion(m, "8")).WaitAsync(Patience)).Last();
        refused.GetProperty("error").GetString()!.ShouldContain("properties: Property 'n' must be a number");
    }

    [Fact]
    public async Task Hub_filters_at_connect_and_takes_an_api_key_in_the_query_string()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);
        var apiKey = (await (await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/api-keys", user.AccessToken, new { name = "hub" }))).JsonAsync()).GetProperty("key").GetString()!;
        await using var hub = await HubClient.ConnectAsync(_api, $"api_key={Uri.EscapeDataString(apiKey)}&type=custom");
        var (view, custom) = (Guid.NewGuid(), Guid.NewGuid());

        await PostAsync(client, apiKey, new { id = view, type = "page_view" });
        await PostAsync(client, apiKey, new { id = custom, type = "custom", name = "signup" });
        var seen = await hub.ReadUntilAsync(m => IsEvent(m, custom)).WaitAsync(Patience);

        hub.Subscribed.GetProperty("arguments")[0].GetProperty("type").GetString().ShouldBe("custom");
        seen.ShouldNotContain(m => IsEvent(m, view));
    }

    [Fact]
    public async Task Hub_without_credentials_is_401()
    {
        var negotiate = await _api.CreateClient().PostAsync(new Uri("/hubs/events/negotiate?negotiateVersion=1", UriKind.Relative), null);

        await negotiate.ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
        (await Should.ThrowAsync<InvalidOperationException>(() => _api.Server.CreateWebSocketClient().ConnectAsync(new Uri("ws://localhost/hubs/events"), CancellationToken.None)))
            .Message.ShouldContain("401");
    }

    [Fact]
    public async Task Streams_end_when_the_viewers_access_ends_and_only_theirs()
    {
        await using var api = new ApiFactory(database, new Dictionary<string, string?> { ["Events:LivePresenceInterval"] = "00:00:00.200" });
        var client = api.CreateClient();
        var (admin, otherAdmin, user) = (await client.SignUpAdminAsync(database), await client.SignUpAdminAsync(database), await client.SignUpAsync(database));
        var created = await (await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/api-keys", user.AccessToken, new { name = "stream" }))).JsonAsync();
        var key = created.GetProperty("key").GetString()!;
        await using var adminStream = await SseSubscriber.OpenAsync(client, "/api/v1/events/stream", admin.AccessToken);
        await using var userStream = await SseSubscriber.OpenAsync(client, "/api/v1/events/stream", user.AccessToken);
        await using var keyStream = await SseSubscriber.OpenAsync(client, "/api/v1/events/stream", key);
        await using var userHub = await HubClient.ConnectAsync(api, $"access_token={Uri.EscapeDataString(user.AccessToken)}");
        await using var stays = await SseSubscriber.OpenAsync(client, "/api/v1/events/stream", otherAdmin.AccessToken);

        // Demoted: the admin's stream showed everyone's events.
        (await client.SendAsync(HttpMethod.Patch.Authorized($"/api/v1/admin/users/{admin.UserId}", otherAdmin.AccessToken, new { role = "user" }))).StatusCode.ShouldBe(HttpStatusCode.OK);
        await adminStream.EndAsync().WaitAsync(Patience);

        // Signed out: the SSE stream and the hub connection of that session.
        (await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/auth/logout", user.AccessToken))).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        await userStream.EndAsync().WaitAsync(Patience);
        await userHub.ClosedAsync().WaitAsync(Patience);

        // The key revoked (its owner's sign-out does not end it: a key is not a session).
        var signedInAgain = (await (await client.LoginAsync(user.Email)).JsonAsync()).GetProperty("accessToken").GetString()!;
        (await client.SendAsync(HttpMethod.Delete.Authorized($"/api/v1/api-keys/{created.GetProperty("id").GetGuid()}", signedInAgain))).IsSuccessStatusCode.ShouldBeTrue();
        await keyStream.EndAsync().WaitAsync(Patience);

        var id = Guid.NewGuid();
        await PostAsync(client, otherAdmin.AccessToken, new { id, type = "page_view" });
        await stays.ReadUntilAsync(id).WaitAsync(Patience);
    }

    [Fact]
    public async Task Streams_end_when_the_access_token_that_opened_them_expires()
    {
        await using var api = new ApiFactory(database, new Dictionary<string, string?> { ["Events:LivePresenceInterval"] = "00:00:00.200" });
        var client = api.CreateClient();
        var user = await client.SignUpAsync(database);
        // Expired 22 s ago: still accepted for 8 s by the validator's 30 s of clock skew, which is when the stream ends.
        var shortLived = Accounts.ForgeAccessToken(user, expires: DateTime.UtcNow.AddSeconds(-22));
        await using var stream = await SseSubscriber.OpenAsync(client, "/api/v1/events/stream", shortLived);
        await using var hub = await HubClient.ConnectAsync(api, $"access_token={Uri.EscapeDataString(shortLived)}");
        await using var lasting = await SseSubscriber.OpenAsync(client, "/api/v1/events/stream", user.AccessToken);

        // Live until then.
        var id = Guid.NewGuid();
        await PostAsync(client, user.AccessToken, new { id, type = "page_view" });
        await stream.ReadUntilAsync(id).WaitAsync(Patience);

        await stream.EndAsync().WaitAsync(Patience);
        await hub.ClosedAsync().WaitAsync(Patience);
        var after = Guid.NewGuid();
        await PostAsync(client, user.AccessToken, new { id = after, type = "page_view" });
        await lasting.ReadUntilAllAsync(id, after).WaitAsync(Patience);
    }

    internal static async Task PostAsync(HttpClient client, string credential, object body) =>
        (await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events", credential, body))).StatusCode.ShouldBe(HttpStatusCode.Accepted);

    private static List<Guid> Ids(List<JsonElement> events) => [.. events.Select(e => e.GetProperty("id").GetGuid())];

    private static bool IsCompletion(JsonElement message, string invocationId) =>
        message.GetProperty("type").GetInt32() == 3 && message.GetProperty("invocationId").GetString() == invocationId;

    private static bool IsEvent(JsonElement message, Guid id) =>
        message.GetProperty("type").GetInt32() == 1 && message.GetProperty("target").GetString() == "event"
        && message.GetProperty("arguments")[0].GetProperty("id").GetGuid() == id;

    /// <summary>An EventSource, line by line: waits for <c>: connected</c> so that the subscription is live.</summary>
    internal sealed class SseSubscriber : IAsyncDisposable
    {
        private readonly StreamReader _reader;

        private SseSubscriber(HttpResponseMessage response, Stream body)
        {
            Response = response;
            _reader = new StreamReader(body, Encoding.UTF8);
        }

        public HttpResponseMessage Response { get; }

        public static async Task<SseSubscriber> OpenAsync(HttpClient client, string path, string? credential = null)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
            if (credential is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", credential);
            }

            var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).WaitAsync(Patience);
            response.StatusCode.ShouldBe(HttpStatusCode.OK);
            var subscriber = new SseSubscriber(response, await response.Content.ReadAsStreamAsync());
            (await subscriber.ReadLineAsync().WaitAsync(Patience)).ShouldBe(": connected");
            (await subscriber.ReadLineAsync().WaitAsync(Patience)).ShouldBe("");
            return subscriber;
        }

        public async Task<string> ReadLineAsync() => await _reader.ReadLineAsync() ?? throw new EndOfStreamException("The stream ended.");

        /// <summary>Completes when the server ends the stream (whatever it still sends before).</summary>
        public async Task EndAsync()
        {
            while (await _reader.ReadLineAsync() is not null)
            {
            }
        }

        /// <summary>Every event read, up to and including the one with <paramref name="id"/>.</summary>
        public Task<List<JsonElement>> ReadUntilAsync(Guid id) => ReadUntilAllAsync(id);

        public async Task<List<JsonElement>> ReadUntilAllAsync(params Guid[] ids)
        {
            var events = new List<JsonElement>();
            var missing = ids.ToHashSet();
            while (missing.Count > 0)
            {
                var e = await NextEventAsync();
                events.Add(e);
                missing.Remove(e.GetProperty("id").GetGuid());
            }

            return events;
        }

        private async Task<JsonElement> NextEventAsync()
        {
            string? name = null;
            string? data = null;
            while (true)
            {
                var line = await ReadLineAsync();
                if (line.Length == 0 && data is not null)
                {
                    name.ShouldBe("event");
                    return JsonDocument.Parse(data).RootElement;
                }

                if (line.StartsWith("event: ", StringComparison.Ordinal))
                {
                    name = line["event: ".Length..];
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    data = line["data: ".Length..];
                }
            }
        }

        public ValueTask DisposeAsync()
        {
            _reader.Dispose();
            Response.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>A SignalR client speaking the JSON hub protocol by hand: records end with 0x1E.</summary>
    private sealed class HubClient : IAsyncDisposable
    {
        private const char RecordSeparator = '\u001e';
        private readonly WebSocket _socket;
        private readonly Decoder _utf8 = Encoding.UTF8.GetDecoder();
        private readonly StringBuilder _pending = new();
        private readonly Queue<string> _records = new();

        private HubClient(WebSocket socket) => _socket = socket;

        /// <summary>The hub's <c>subscribed</c> message: the filter it applies.</summary>
        public JsonElement Subscribed { get; private set; }

        public static async Task<HubClient> ConnectAsync(ApiFactory api, string query)
        {
            var socket = await api.Server.CreateWebSocketClient().ConnectAsync(new Uri($"ws://localhost/hubs/events?{query}"), CancellationToken.None).WaitAsync(Patience);
            var client = new HubClient(socket);
            await client.SendRecordAsync("""{"protocol":"json","version":1}""");
            (await client.NextRecordAsync().WaitAsync(Patience)).ShouldBe("{}");
            // The hub says "subscribed" once the subscription is live, like the SSE stream's ": connected".
            client.Subscribed = (await client.ReadUntilAsync(m => m.GetProperty("type").GetInt32() == 1 && m.GetProperty("target").GetString() == "subscribed").WaitAsync(Patience)).Last();
            return client;
        }

        /// <summary>Completes when the server closes the connection (a close message, or the socket closed).</summary>
        public async Task ClosedAsync()
        {
            try
            {
                while (JsonDocument.Parse(await NextRecordAsync()).RootElement.GetProperty("type").GetInt32() != 7)
                {
                }
            }
            catch (Exception ex) when (ex is EndOfStreamException or WebSocketException or IOException)
            {
                // Closed without a close message.
            }
        }

        public Task InvokeAsync(string invocationId, string target, object argument) =>
            SendRecordAsync(JsonSerializer.Serialize(new { type = 1, invocationId, target, arguments = new[] { argument } }));

        /// <summary>Every message read (pings aside) until each of <paramref name="wanted"/> has matched one.</summary>
        public async Task<List<JsonElement>> ReadUntilAsync(params Func<JsonElement, bool>[] wanted)
        {
            var messages = new List<JsonElement>();
            var missing = wanted.ToList();
            while (missing.Count > 0)
            {
                var message = JsonDocument.Parse(await NextRecordAsync()).RootElement;
                if (message.GetProperty("type").GetInt32() == 6)
                {
                    continue;
                }

                message.GetProperty("type").GetInt32().ShouldNotBe(7, $"the hub closed the connection: {message}");
                messages.Add(message);
                missing.RemoveAll(w => w(message));
            }

            return messages;
        }

        private Task SendRecordAsync(string json) =>
            _socket.SendAsync(Encoding.UTF8.GetBytes(json + RecordSeparator), WebSocketMessageType.Text, true, CancellationToken.None);

        private async Task<string> NextRecordAsync()
        {
            var buffer = new byte[16 * 1024];
            var chars = new char[Encoding.UTF8.GetMaxCharCount(buffer.Length)];
            while (_records.Count == 0)
            {
                var received = await _socket.ReceiveAsync(buffer, CancellationToken.None);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    throw new EndOfStreamException($"The hub closed the socket: {received.CloseStatusDescription}");
                }

                _pending.Append(chars, 0, _utf8.GetChars(buffer, 0, received.Count, chars, 0));
                var text = _pending.ToString();
                var end = text.LastIndexOf(RecordSeparator);
                if (end >= 0)
                {
                    foreach (var record in text[..end].Split(RecordSeparator))
                    {
                        _records.Enqueue(record);
                    }

                    _pending.Clear().Append(text[(end + 1)..]);
                }
            }

            return _records.Dequeue();
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                if (_socket.State == WebSocketState.Open)
                {
                    await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).WaitAsync(Patience);
                }
            }
            catch (Exception ex) when (ex is IOException or WebSocketException or ObjectDisposedException)
            {
                // The server closed it first.
            }

            _socket.Dispose();
        }
    }
}
