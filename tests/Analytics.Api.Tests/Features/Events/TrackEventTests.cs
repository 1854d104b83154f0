using System.Net;
using System.Text.Json;
using Analytics.Api.Tests.Infrastructure;

namespace Analytics.Api.Tests.Features.Events;

public sealed class TrackEventTests(TestDatabase database) : IAsyncDisposable
{
    private readonly ApiFactory _api = new(database);

    public ValueTask DisposeAsync() => _api.DisposeAsync();

    private async Task<(HttpClient Client, SignedIn User, string Key)> AppAsync()
    {
        var client = _api.CreateClient();
        var user = await client.SignUpAsync(database);
        var created = await (await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/api-keys", user.AccessToken, new { name = "app" }))).JsonAsync();
        return (client, user, created.GetProperty("key").GetString()!);
    }

    [Fact]
    public async Task A_202_means_the_event_is_already_in_its_time_partition_with_server_details()
    {
        var (client, user, _) = await AppAsync();
        var id = Guid.NewGuid();
        var occurredAt = DateTimeOffset.UtcNow.AddDays(-40);

        var response = await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events", user.AccessToken, new
        {
            id,
            type = "feature_click",
            name = "date_filter",
            occurredAt,
            url = "https://app.example.com/reports",
            properties = new { range = "30d", count = 3, pinned = true },
            utmSource = "mail",
        }));

        response.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        (await response.JsonAsync()).GetProperty("id").GetGuid().ShouldBe(id);
        var stored = (await database.QueryAsync<(string Partition, string Type, string Name, Guid UserId, string Props, string Utm)>(
            "select tableoid::regclass::text, type, name, user_id, properties::text, utm_source from events where id = @id", new { id })).Single();
        stored.Partition.ShouldBe($"events_{occurredAt:yyyy_MM}");
        stored.Type.ShouldBe("feature_click");
        stored.Name.ShouldBe("date_filter");
        stored.UserId.ShouldBe(user.UserId);
        JsonDocument.Parse(stored.Props).RootElement.GetProperty("count").GetInt32().ShouldBe(3);
        stored.Utm.ShouldBe("mail");
    }

    [Fact]
    public async Task A_retry_with_the_same_id_is_answered_the_same_and_stored_once_even_with_another_time()
    {
        var (client, _, key) = await AppAsync();
        var id = Guid.NewGuid();

        var first = await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events", key, new { id, type = "click", name = "buy", externalUserId = "u-42" }));
        var retry = await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events", key, new { id, type = "click", name = "buy", externalUserId = "u-42", occurredAt = DateTimeOffset.UtcNow.AddDays(-3) }));

        first.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        retry.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        (await retry.Content.ReadAsStringAsync()).ShouldBe(await first.Content.ReadAsStringAsync());
        (await database.ScalarAsync<long>("select count(*) from events where id = @id", new { id })).ShouldBe(1);
        (await database.ScalarAsync<string>("select external_user_id from events where id = @id", new { id })).ShouldBe("u-42");
    }

    [Fact]
    public async Task An_id_is_its_senders_own_another_senders_event_with_it_is_stored_not_a_duplicate()
    {
        var (client, owner, key) = await AppAsync();
        var (_, other, otherKey) = await AppAsync();
        var id = Guid.NewGuid();
        var legacy = Guid.NewGuid();
        // An id claimed before senders were recorded (migration 0018) still answers a retry, whoever sends it.
        await database.ExecuteAsync("insert into event_ids (id, received_at) values (@legacy, now())", new { legacy });

        var first = await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events", otherKey, new { id, type = "click", name = "first" }));
        var theirs = await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events", key, new { id, type = "click", name = "mine" }));
        var sameOwnerByToken = await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events", owner.AccessToken, new { id, type = "click", name = "again" }));
        var old = await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events", key, new { id = legacy, type = "click", name = "old" }));

        foreach (var response in new[] { first, theirs, sameOwnerByToken, old })
        {
            response.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        }

        (await database.QueryAsync<string>("select name from events where id = @id order by name", new { id })).ShouldBe(["first", "mine"]);
        (await database.ScalarAsync<long>("select count(*) from events where id = @legacy", new { legacy })).ShouldBe(0);
        (await database.ScalarAsync<long>("select count(*) from event_ids where id = @id and owner_id in (@A, @B)", new { id, A = owner.UserId, B = other.UserId })).ShouldBe(2);
    }

    [Fact]
    public async Task A_batch_reports_each_item_and_stores_the_good_ones()
    {
        var (client, user, _) = await AppAsync();
        var known = Guid.NewGuid();
        await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events", user.AccessToken, new { id = known, type = "page_view" }));
        var fresh = Guid.NewGuid();

        var response = await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events/batch", user.AccessToken, new
        {
            events = new object[]
            {
                new { id = fresh, type = "page_view", url = "https://a.example.com" },
                new { id = known, type = "page_view" },
                new { type = "feature_click" },
                new { type = "custom", name = "x", occurredAt = DateTimeOffset.UtcNow.AddYears(-2) },
                new { type = "custom", name = "y", properties = new { nested = new { no = 1 } } },
            },
        }));

        response.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var body = await response.JsonAsync();
        body.GetProperty("accepted").GetInt32().ShouldBe(1);
        body.GetProperty("duplicates").GetInt32().ShouldBe(1);
        body.GetProperty("rejected").GetInt32().ShouldBe(3);
        var items = body.GetProperty("items");
        items[0].GetProperty("status").GetString().ShouldBe("accepted");
        items[1].GetProperty("status").GetString().ShouldBe("duplicate");
        items[2].GetProperty("errors").GetProperty("name")[0].GetString()!.ShouldContain("required");
        items[3].GetProperty("errors").GetProperty("occurredAt")[0].GetString()!.ShouldContain("1 year");
        items[4].GetProperty("errors").GetProperty("properties")[0].GetString()!.ShouldContain("flat");
        (await database.ScalarAsync<long>("select count(*) from events where id = @fresh", new { fresh })).ShouldBe(1);
    }

    [Fact]
    public async Task A_batch_with_every_item_rejected_is_400_and_an_oversized_one_is_refused_whole()
    {
        var (client, user, _) = await AppAsync();

        var allBad = await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events/batch", user.AccessToken, new { events = new[] { new { type = "click" } } }));
        var tooMany = await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events/batch", user.AccessToken, new { events = Enumerable.Range(0, 1001).Select(_ => new { type = "page_view" }) }));
        var empty = await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events/batch", user.AccessToken, new { events = Array.Empty<object>() }));

        allBad.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await allBad.JsonAsync()).GetProperty("rejected").GetInt32().ShouldBe(1);
        (await tooMany.ShouldBeProblemAsync(HttpStatusCode.BadRequest)).GetProperty("errors").GetProperty("events")[0].GetString()!.ShouldContain("1000");
        await empty.ShouldBeProblemAsync(HttpStatusCode.BadRequest);
    }

    [Theory]
    [InlineData("""{"type":"teleport"}""", "$.type")]
    [InlineData("""{"type":"page_view","occurredAt":"yesterday"}""", "$.occurredAt")]
    [InlineData("""{"type":"page_view","id":"not-a-uuid"}""", "$.id")]
    public async Task Wrong_types_and_unknown_event_types_are_400(string json, string path)
    {
        var (client, user, _) = await AppAsync();
        var request = HttpMethod.Post.Authorized("/api/v1/events", user.AccessToken);
        request.Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");

        (await (await client.SendAsync(request)).ShouldBeProblemAsync(HttpStatusCode.BadRequest)).GetProperty("detail").GetString()!.ShouldContain(path);
    }

    [Fact]
    public async Task Comma_joined_event_types_are_400_singly_and_in_a_batch_and_ingestion_goes_on()
    {
        var (client, user, _) = await AppAsync();
        // System.Text.Json reads "click, custom" as the combination of two names, which is no event type.
        var single = HttpMethod.Post.Authorized("/api/v1/events", user.AccessToken);
        single.Content = new StringContent("""{"type":"click, custom","name":"x"}""", System.Text.Encoding.UTF8, "application/json");

        var refused = await (await client.SendAsync(single).WaitAsync(TimeSpan.FromSeconds(30))).ShouldBeProblemAsync(HttpStatusCode.BadRequest);

        refused.GetProperty("errors").GetProperty("type")[0].GetString()!.ShouldContain("page_view, click");
        var batch = await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events/batch", user.AccessToken, new
        {
            events = Enumerable.Repeat<object>(new { type = "feature_click, custom" }, 60).Append(new { type = "page_view" }),
        })).WaitAsync(TimeSpan.FromSeconds(30));
        batch.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var body = await batch.JsonAsync();
        (body.GetProperty("rejected").GetInt32(), body.GetProperty("accepted").GetInt32()).ShouldBe((60, 1));

        var id = Guid.NewGuid();
        (await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events", user.AccessToken, new { id, type = "page_view" })).WaitAsync(TimeSpan.FromSeconds(30))).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        (await database.ScalarAsync<long>("select count(*) from events where user_id = @UserId", new { user.UserId })).ShouldBe(2);
    }

    [Fact]
    public async Task Field_limits_are_enforced_with_reasons()
    {
        var (client, user, _) = await AppAsync();

        var response = await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events", user.AccessToken, new
        {
            type = "custom",
            name = new string('n', 101),
            occurredAt = DateTimeOffset.UtcNow.AddDays(2),
            externalUserId = "only for keys",
            properties = Enumerable.Range(0, 51).ToDictionary(i => $"k{i}", i => i),
        }));

        var errors = (await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest)).GetProperty("errors");
        foreach (var field in new[] { "name", "occurredAt", "externalUserId", "properties" })
        {
            errors.TryGetProperty(field, out _).ShouldBeTrue(field);
        }
    }

    [Fact]
    public async Task A_nul_character_is_refused_with_reasons_and_fails_no_other_event()
    {
        var (client, _, key) = await AppAsync();

        var single = await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events", key, new
        {
            type = "custom",
            name = "checkout",
            url = "https://app.example/\u0000",
            sessionId = "s\u0000",
            properties = new Dictionary<string, object> { ["plan\u0000"] = "pro", ["note"] = "a\u0000b" },
        }));
        var errors = (await single.ShouldBeProblemAsync(HttpStatusCode.BadRequest)).GetProperty("errors");
        errors.GetProperty("url")[0].GetString()!.ShouldContain("NUL");
        errors.GetProperty("sessionId")[0].GetString()!.ShouldContain("NUL");
        errors.GetProperty("properties").GetArrayLength().ShouldBe(2);

        var goodId = Guid.NewGuid();
        var batch = await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events/batch", key, new
        {
            events = new object[]
            {
                new { id = goodId, type = "page_view", url = "https://app.example/" },
                new { type = "page_view", referrer = "\u0000" },
            },
        }));
        batch.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var items = (await batch.JsonAsync()).GetProperty("items");
        items[0].GetProperty("status").GetString().ShouldBe("accepted");
        items[1].GetProperty("status").GetString().ShouldBe("rejected");
        items[1].GetProperty("errors").GetProperty("referrer")[0].GetString()!.ShouldContain("NUL");
        (await database.ScalarAsync<long>("select count(*) from events where id = @goodId", new { goodId })).ShouldBe(1);
    }

    [Fact]
    public async Task Property_values_postgresql_cannot_store_fail_only_the_event_that_sent_them()
    {
        var (client, user, _) = await AppAsync();
        HttpRequestMessage Raw(string json)
        {
            var request = HttpMethod.Post.Authorized("/api/v1/events", user.AccessToken);
            request.Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
            return request;
        }

        var infinite = await client.SendAsync(Raw("""{"type":"page_view","properties":{"big":1e400}}"""));
        (await infinite.ShouldBeProblemAsync(HttpStatusCode.BadRequest)).GetProperty("errors").GetProperty("properties")[0].GetString()!.ShouldContain("double");
        var surrogate = await client.SendAsync(Raw("""{"type":"page_view","properties":{"k":"\ud800"}}"""));
        (await surrogate.ShouldBeProblemAsync(HttpStatusCode.BadRequest)).GetProperty("errors").GetProperty("properties")[0].GetString()!.ShouldContain("Unicode");

        // A double reads these as 0 and PostgreSQL's numeric refuses them (more than 16,383 digits after the point):
        // refused before the group commit that the other senders' events share.
        var tiny = "0." + new string('0', 20_000) + "1";
        var ids = Enumerable.Range(0, 24).Select(_ => Guid.NewGuid()).ToArray();
        var responses = await Task.WhenAll(ids.Select((id, i) => client.SendAsync(Raw(
            i == 12 ? $$$"""{"id":"{{{id}}}","type":"custom","name":"tiny","properties":{"n":{{{tiny}}}}}""" : $$"""{"id":"{{id}}","type":"page_view"}"""))));

        var refused = await responses[12].ShouldBeProblemAsync(HttpStatusCode.BadRequest);
        refused.GetProperty("errors").GetProperty("properties")[0].GetString()!.ShouldContain("double");
        responses.Where((_, i) => i != 12).ShouldAllBe(r => r.StatusCode == HttpStatusCode.Accepted);
        (await database.ScalarAsync<long>("select count(*) from events where id = any(@ids)", new { ids })).ShouldBe(23);

        // In a batch, only the item that sent one is rejected; a true zero in any spelling is kept.
        var batch = HttpMethod.Post.Authorized("/api/v1/events/batch", user.AccessToken);
        batch.Content = new StringContent("""
            {"events":[{"type":"custom","name":"b","properties":{"n":1e-16384}},{"type":"custom","name":"b","properties":{"n":0.0e-5,"m":-0,"k":1.5e-300}},{"type":"custom","name":"b","properties":{"n":1e-400}},{"type":"custom","name":"b","properties":{"n":0e-16384}},{"type":"custom","name":"b","properties":{"a":0e1000,"b":1E5,"c":-1e-320,"d":123456789012345678901234567890}}]}
            """, System.Text.Encoding.UTF8, "application/json");
        var items = (await (await client.SendAsync(batch)).JsonAsync()).GetProperty("items");
        items.EnumerateArray().Select(i => i.GetProperty("status").GetString()).ShouldBe(["rejected", "accepted", "rejected", "rejected", "accepted"]);
        var extremes = items[4].GetProperty("id").GetGuid();
        (await database.ScalarAsync<string>("select properties->>'d' from events where id = @extremes", new { extremes })).ShouldBe("123456789012345678901234567890");
        var kept = items[1].GetProperty("id").GetGuid();
        (await database.ScalarAsync<long>("select count(*) from events where id = @kept and (properties->>'k')::float8 = 1.5e-300", new { kept })).ShouldBe(1);
    }

    [Fact]
    public async Task A_long_user_agent_is_cut_between_characters_never_inside_one()
    {
        var (client, user, _) = await AppAsync();
        var userAgent = new string('a', 511) + "\U0001F600";
        var request = HttpMethod.Post.Authorized("/api/v1/events", user.AccessToken, new { type = "page_view" });
        request.Headers.TryAddWithoutValidation("User-Agent", userAgent).ShouldBeTrue();

        var response = await client.SendAsync(request);

        response.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var id = (await response.JsonAsync()).GetProperty("id").GetGuid();
        (await database.ScalarAsync<string>("select user_agent from events where id = @id", new { id })).ShouldBe(new string('a', 511));
    }

    [Fact]
    public async Task A_server_assigned_id_sent_back_with_its_time_is_a_duplicate_and_fails_no_other_event()
    {
        var (client, user, _) = await AppAsync();
        var at = DateTimeOffset.UtcNow.AddMinutes(-5);
        var first = await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events", user.AccessToken, new { type = "page_view", name = "   ", occurredAt = at }));
        var assigned = (await first.JsonAsync()).GetProperty("id").GetGuid();
        (await database.ScalarAsync<string?>("select name from events where id = @assigned", new { assigned })).ShouldBeNull();

        // Sent back as the client's own id (an SDK replaying its queue with the answers it got), among other senders'
        // events that share its group commit, and inside a batch with a new event.
        var ids = Enumerable.Range(0, 24).Select(_ => Guid.NewGuid()).ToArray();
        var responses = await Task.WhenAll(ids.Select((id, i) => client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events", user.AccessToken,
            new { id = i == 12 ? assigned : id, type = "page_view", occurredAt = at }))));
        var fresh = Guid.NewGuid();
        var batch = await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events/batch", user.AccessToken, new
        {
            events = new object[] { new { id = assigned, type = "page_view", occurredAt = at }, new { id = fresh, type = "page_view", occurredAt = at } },
        }));

        responses.ShouldAllBe(r => r.StatusCode == HttpStatusCode.Accepted);
        (await responses[12].JsonAsync()).GetProperty("id").GetGuid().ShouldBe(assigned);
        batch.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var items = (await batch.JsonAsync()).GetProperty("items");
        (items[0].GetProperty("status").GetString(), items[1].GetProperty("status").GetString()).ShouldBe(("duplicate", "accepted"));
        (await database.ScalarAsync<long>("select count(*) from events where id = any(@ids)", new { ids })).ShouldBe(23);
        (await database.ScalarAsync<long>("select count(*) from events where id = @assigned", new { assigned })).ShouldBe(1);
        (await database.ScalarAsync<long>("select count(*) from events where id = @fresh", new { fresh })).ShouldBe(1);
    }

    [Fact]
    public async Task Without_credentials_it_is_401()
    {
        await (await _api.CreateClient().PostAsync(new Uri("/api/v1/events", UriKind.Relative), new StringContent("""{"type":"page_view"}""", System.Text.Encoding.UTF8, "application/json")))
            .ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task An_api_key_over_its_rate_gets_429_with_retry_after()
    {
        await using var api = new ApiFactory(database, new Dictionary<string, string?> { ["Events:ApiKeyRatePerSecond"] = "0.1", ["Events:ApiKeyBurst"] = "3" });
        var client = api.CreateClient();
        var user = await client.SignUpAsync(database);
        var key = (await (await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/api-keys", user.AccessToken, new { name = "noisy" }))).JsonAsync()).GetProperty("key").GetString()!;

        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage last = null!;
        for (var i = 0; i < 5; i++)
        {
            last = await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events", key, new { type = "page_view" }));
            statuses.Add(last.StatusCode);
        }

        statuses.Count(s => s == HttpStatusCode.Accepted).ShouldBe(3);
        statuses[^1].ShouldBe(HttpStatusCode.TooManyRequests);
        last.Headers.RetryAfter.ShouldNotBeNull();
    }

    [Fact]
    public async Task A_signed_in_user_sending_with_their_access_token_has_a_rate_of_their_own()
    {
        await using var api = new ApiFactory(database, new Dictionary<string, string?> { ["Events:UserRatePerSecond"] = "0.1", ["Events:UserBurst"] = "3" });
        var client = api.CreateClient();
        var user = await client.SignUpAsync(database);
        var other = await client.SignUpAsync(database);

        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage last = null!;
        for (var i = 0; i < 5; i++)
        {
            last = await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events", user.AccessToken, new { type = "page_view" }));
            statuses.Add(last.StatusCode);
        }

        statuses.Count(s => s == HttpStatusCode.Accepted).ShouldBe(3);
        (await last.ShouldBeProblemAsync(HttpStatusCode.TooManyRequests)).GetProperty("detail").GetString()!.ShouldContain("signed-in user");
        last.Headers.RetryAfter.ShouldNotBeNull();
        (await database.ScalarAsync<long>("select count(*) from events where user_id = @UserId", new { user.UserId })).ShouldBe(3);
        (await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events", other.AccessToken, new { type = "page_view" }))).StatusCode.ShouldBe(HttpStatusCode.Accepted);
    }

    [Fact]
    public async Task A_batch_costs_one_token_per_event_and_is_refused_whole_when_they_do_not_suffice()
    {
        await using var api = new ApiFactory(database, new Dictionary<string, string?> { ["Events:ApiKeyRatePerSecond"] = "0.1", ["Events:ApiKeyBurst"] = "10" });
        var client = api.CreateClient();
        var user = await client.SignUpAsync(database);
        var key = (await (await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/api-keys", user.AccessToken, new { name = "batchy" }))).JsonAsync()).GetProperty("key").GetString()!;
        var refusedIds = Enumerable.Range(0, 5).Select(_ => Guid.NewGuid()).ToArray();

        var fits = await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events/batch", key, new { events = Enumerable.Range(0, 8).Select(_ => new { type = "page_view" }) }));
        var tooMany = await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events/batch", key, new { events = refusedIds.Select(id => new { id, type = "page_view" }) }));

        fits.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        await tooMany.ShouldBeProblemAsync(HttpStatusCode.TooManyRequests);
        (await database.ScalarAsync<long>("select count(*) from events where id = any(@refusedIds)", new { refusedIds })).ShouldBe(0);
    }

    [Fact]
    public async Task Many_concurrent_senders_each_get_their_event_committed()
    {
        var (client, _, key) = await AppAsync();
        var ids = Enumerable.Range(0, 200).Select(_ => Guid.NewGuid()).ToArray();

        var responses = await Task.WhenAll(ids.Select(id => client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events", key, new { id, type = "page_view" }))));

        responses.ShouldAllBe(r => r.StatusCode == HttpStatusCode.Accepted);
        (await database.ScalarAsync<long>("select count(*) from events where id = any(@ids)", new { ids })).ShouldBe(200);
    }

    [Fact]
    public async Task Batches_over_the_concurrency_limit_wait_their_turn_and_are_all_stored()
    {
        await using var api = new ApiFactory(database, new Dictionary<string, string?> { ["Events:MaxConcurrentBatches"] = "1" });
        var client = api.CreateClient();
        var user = await client.SignUpAsync(database);
        var key = (await (await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/api-keys", user.AccessToken, new { name = "queued" }))).JsonAsync()).GetProperty("key").GetString()!;
        var batches = Enumerable.Range(0, 12).Select(_ => Enumerable.Range(0, 50).Select(_ => Guid.NewGuid()).ToArray()).ToArray();

        var responses = await Task.WhenAll(batches.Select(ids =>
            client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events/batch", key, new { events = ids.Select(id => new { id, type = "page_view" }) }))));

        responses.ShouldAllBe(r => r.StatusCode == HttpStatusCode.Accepted);
        var all = batches.SelectMany(b => b).ToArray();
        (await database.ScalarAsync<long>("select count(*) from events where id = any(@all)", new { all })).ShouldBe(all.Length);
    }

    [Fact]
    public async Task Batches_beyond_the_waiting_line_get_503_with_retry_after_and_nothing_of_theirs_is_stored()
    {
        await using var api = new ApiFactory(database, new Dictionary<string, string?> { ["Events:MaxConcurrentBatches"] = "1", ["Events:BatchQueueLimit"] = "0" });
        var client = api.CreateClient();
        var user = await client.SignUpAsync(database);
        var key = (await (await client.SendAsync(HttpMethod.Post.Authorized("/api/v1/api-keys", user.AccessToken, new { name = "turned-away" }))).JsonAsync()).GetProperty("key").GetString()!;
        var batches = Enumerable.Range(0, 16).Select(_ => Enumerable.Range(0, 200).Select(_ => Guid.NewGuid()).ToArray()).ToArray();

        var responses = await Task.WhenAll(batches.Select(ids =>
            client.SendAsync(HttpMethod.Post.Authorized("/api/v1/events/batch", key, new { events = ids.Select(id => new { id, type = "page_view" }) }))));

        // With one batch admitted at a time and none waiting, concurrent batches are turned away, and only those.
        responses.ShouldContain(r => r.StatusCode == HttpStatusCode.Accepted);
        responses.ShouldContain(r => r.StatusCode == HttpStatusCode.ServiceUnavailable);
        for (var i = 0; i < batches.Length; i++)
        {
            var ids = batches[i];
            var stored = await database.ScalarAsync<long>("select count(*) from events where id = any(@ids)", new { ids });
            if (responses[i].StatusCode == HttpStatusCode.Accepted)
            {
                stored.ShouldBe(ids.Length);
            }
            else
            {
                await responses[i].ShouldBeProblemAsync(HttpStatusCode.ServiceUnavailable);
                responses[i].Headers.RetryAfter.ShouldNotBeNull();
                stored.ShouldBe(0);
            }
        }
    }
}
