using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Orleans.Search.Fakes;
using Orleans.Search.Webhooks;
using Xunit.Abstractions;

namespace Orleans.Search.Tests.Webhooks;

/// <summary>Webhooks through the HTTP API of a real gateway, delivered to a loopback receiver that checks signatures itself.</summary>
public sealed class WebhookDeliveryTests(WebhookGatewayFixture fixture, ITestOutputHelper output) : IClassFixture<WebhookGatewayFixture>
{
    private static readonly JsonSerializerOptions Json = WebhookGatewayFixture.Json;

    [Fact]
    public async Task Deliveries_carry_the_standard_headers_and_verify_with_the_secret_and_during_a_rotation_with_both()
    {
        using var http = fixture.As("signer");
        var endpoint = await fixture.RegisterAsync(http, "signer");
        Assert.StartsWith("whsec_", endpoint.Secret);
        Assert.Equal(32, Convert.FromBase64String(endpoint.Secret!["whsec_".Length..]).Length);
        Assert.Equal(WebhookEventTypes.All, endpoint.Events);
        // The secret is shown once: reading the endpoint back does not show it.
        var readBack = await http.GetFromJsonAsync<WebhookEndpoint>($"/api/webhook-endpoints/{endpoint.Id}", Json);
        Assert.Null(readBack!.Secret);

        var first = await fixture.CreateJobAsync(http, endpoint.Id);
        var firstStatus = await WebhookGatewayFixture.EndedAsync(http, first);
        var arrival = await Eventually.ReturnsAsync(() => Task.FromResult(fixture.ArrivalsOf("signer", first)), a => a.Count >= 1, "the first job's delivery");
        var delivered = Assert.Single(arrival);
        Assert.StartsWith("msg_", delivered.Id);
        Assert.True(delivered.TimestampFresh, $"webhook-timestamp {delivered.Timestamp} is not within 5 minutes of now");
        Assert.Single(delivered.Signatures);
        Assert.Equal(new[] { endpoint.Secret }, delivered.VerifiedSecrets);
        Assert.True(delivered.Verified);
        using (var body = JsonDocument.Parse(delivered.Body))
        {
            Assert.Equal(WebhookEventTypes.JobCompleted, body.RootElement.GetProperty("type").GetString());
            Assert.True(body.RootElement.GetProperty("timestamp").TryGetDateTimeOffset(out _));
            var data = body.RootElement.GetProperty("data");
            Assert.Equal(first, data.GetProperty("jobId").GetString());
            Assert.Equal(JobStates.Completed, data.GetProperty("status").GetString());
            Assert.Equal(firstStatus.Stats.TotalResults, data.GetProperty("stats").GetProperty("totalResults").GetInt32());
            Assert.False(data.TryGetProperty("results", out _), "the body carries the job's status without its results");
        }
        // A body changed on the way would not verify.
        Assert.Empty(FakeWebhookReceiver.Verify([endpoint.Secret!], delivered.Id!, delivered.Timestamp!, Encoding.UTF8.GetBytes(delivered.Body + " "), delivered.Signature!));

        using var rotate = await http.PostAsync($"/api/webhook-endpoints/{endpoint.Id}/rotate-secret", null);
        Assert.Equal(HttpStatusCode.OK, rotate.StatusCode);
        var rotated = (await rotate.Content.ReadFromJsonAsync<WebhookEndpoint>(Json))!;
        Assert.StartsWith("whsec_", rotated.Secret);
        Assert.NotEqual(endpoint.Secret, rotated.Secret);
        Assert.NotNull(rotated.PreviousSecretExpiresAt);
        Assert.InRange(rotated.PreviousSecretExpiresAt!.Value - DateTimeOffset.UtcNow, TimeSpan.FromHours(23), TimeSpan.FromHours(25));
        fixture.Receiver.Trust("signer", rotated.Secret!);

        var second = await fixture.CreateJobAsync(http, endpoint.Id);
        await WebhookGatewayFixture.EndedAsync(http, second);
        var during = Assert.Single(await Eventually.ReturnsAsync(() => Task.FromResult(fixture.ArrivalsOf("signer", second)), a => a.Count >= 1, "the second job's delivery"));
        Assert.Equal(2, during.Signatures.Count);
        // Each secret verifies on its own: a receiver that has not switched yet, and one that has.
        Assert.Equal(new[] { endpoint.Secret!, rotated.Secret! }.Order(), during.VerifiedSecrets.Order());
        Assert.True(during.Verified);
        Assert.NotEqual(first, second);
        Assert.NotEqual(delivered.Id, during.Id);
    }

    [Fact]
    public async Task Endpoints_are_listed_read_and_deleted_by_their_owner_only()
    {
        using var http = fixture.As("owner");
        using var stranger = fixture.As("stranger");
        var endpoint = await fixture.RegisterAsync(http, "owner", WebhookEventTypes.JobFailed);
        Assert.Equal(new[] { WebhookEventTypes.JobFailed }, endpoint.Events);

        var list = await http.GetFromJsonAsync<JsonElement>("/api/webhook-endpoints", Json);
        var item = Assert.Single(list.GetProperty("items").EnumerateArray());
        Assert.Equal(endpoint.Id, item.GetProperty("id").GetString());
        Assert.False(item.TryGetProperty("secret", out _), "a listing shows no secret");
        Assert.Equal(0, (await stranger.GetFromJsonAsync<JsonElement>("/api/webhook-endpoints", Json)).GetProperty("items").GetArrayLength());
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.GetAsync($"/api/webhook-endpoints/{endpoint.Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.PostAsync($"/api/webhook-endpoints/{endpoint.Id}/rotate-secret", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.DeleteAsync($"/api/webhook-endpoints/{endpoint.Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/api/webhook-endpoints/not-an-id")).StatusCode);

        // Subscribed to job.failed only: a completed job sends it nothing, while an endpoint subscribed to every event
        // (enqueued in the same hand-over) gets its delivery.
        var everything = await fixture.RegisterAsync(http, "owner-all");
        var job = await fixture.CreateJobAsync(http, endpointId: null);
        Assert.Equal(JobStates.Completed, (await WebhookGatewayFixture.EndedAsync(http, job)).Status);
        await WebhookGatewayFixture.DeliveryWhenStoredAsync(http, JobWebhooks.TerminalDeliveryId(job, everything.Id),
            d => d.Status == WebhookDeliveryStates.Delivered, "the delivery to the endpoint subscribed to everything");
        using (var missing = await http.GetAsync($"/api/webhook-deliveries/{JobWebhooks.TerminalDeliveryId(job, endpoint.Id)}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }

        Assert.Equal(HttpStatusCode.NoContent, (await http.DeleteAsync($"/api/webhook-endpoints/{endpoint.Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.DeleteAsync($"/api/webhook-endpoints/{endpoint.Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"/api/webhook-endpoints/{endpoint.Id}")).StatusCode);
        Assert.Empty(fixture.Receiver.ArrivalsFor("owner"));

        using var badStatus = await http.GetAsync("/api/webhook-deliveries?status=delivered");
        Assert.Equal(HttpStatusCode.BadRequest, badStatus.StatusCode);
        Assert.Contains("status", await badStatus.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_receiver_that_fails_three_times_then_recovers_accepts_exactly_one_delivery_with_one_webhook_id()
    {
        using var http = fixture.As("recovers");
        var endpoint = await fixture.RegisterAsync(http, "recovers");
        fixture.Receiver.Script("recovers", new WebhookReply(500), new WebhookReply(500), new WebhookReply(503));

        var job = await fixture.CreateJobAsync(http, endpoint.Id);
        await WebhookGatewayFixture.EndedAsync(http, job);
        var deliveryId = JobWebhooks.TerminalDeliveryId(job, endpoint.Id);
        var delivery = (await WebhookGatewayFixture.DeliveryWhenStoredAsync(http, deliveryId,
            d => d.Status == WebhookDeliveryStates.Delivered, "the delivery to succeed on its fourth attempt"))!;

        var arrivals = fixture.ArrivalsOf("recovers", job);
        Assert.Equal(new[] { 500, 500, 503, 204 }, arrivals.Select(a => a.AnsweredStatus));
        Assert.Single(fixture.Receiver.AcceptedBy("recovers"));
        Assert.All(arrivals, a => Assert.Equal(deliveryId, a.Id));
        Assert.All(arrivals, a => Assert.True(a.Verified, $"attempt at {a.ArrivedAt:O} did not verify"));
        // Every attempt is recorded with its status and time; the failures with an error.
        Assert.Equal(new[] { 500, 500, 503, 204 }, delivery.Attempts.Select(a => a.Status ?? 0));
        Assert.All(delivery.Attempts.Take(3), a => Assert.Equal($"HTTP {a.Status}", a.Error));
        Assert.Null(delivery.Attempts[^1].Error);
        Assert.All(delivery.Attempts, a => Assert.InRange(a.Ms, 0, 15_000));
        Assert.DoesNotContain((await WebhookGatewayFixture.FailedAsync(http)).Items, d => d.Id == deliveryId);
    }

    [Fact]
    public async Task A_receiver_that_never_recovers_leaves_the_delivery_in_the_failed_store_and_a_replay_delivers_it()
    {
        using var http = fixture.As("never");
        var endpoint = await fixture.RegisterAsync(http, "never");
        fixture.Receiver.Otherwise("never", new WebhookReply(500));

        var job = await fixture.CreateJobAsync(http, endpoint.Id);
        await WebhookGatewayFixture.EndedAsync(http, job);
        var deliveryId = JobWebhooks.TerminalDeliveryId(job, endpoint.Id);
        var failed = await Eventually.ReturnsAsync(() => WebhookGatewayFixture.FailedAsync(http),
            list => list.Items.Any(d => d.Id == deliveryId), "the delivery to land in the failed store");
        var line = failed.Items.Single(d => d.Id == deliveryId);
        Assert.Equal(job, line.JobId);
        Assert.Equal(WebhookEventTypes.JobCompleted, line.Type);
        Assert.Equal(WebhookGatewayFixture.Attempts, line.Attempts);
        Assert.Contains("HTTP 500", line.Error);
        Assert.Equal(WebhookGatewayFixture.Attempts, fixture.ArrivalsOf("never", job).Count);
        var stored = await WebhookGatewayFixture.DeliveryAsync(http, deliveryId);
        Assert.Equal(WebhookDeliveryStates.Failed, stored.Status);
        Assert.Equal(WebhookGatewayFixture.Attempts, stored.Attempts.Count);

        // Another user cannot see or replay it.
        using (var stranger = fixture.As("stranger"))
        {
            Assert.Equal(HttpStatusCode.NotFound, (await stranger.GetAsync($"/api/webhook-deliveries/{deliveryId}")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await stranger.PostAsync($"/api/webhook-deliveries/{deliveryId}/replay", null)).StatusCode);
            Assert.DoesNotContain((await WebhookGatewayFixture.FailedAsync(stranger)).Items, d => d.Id == deliveryId);
        }

        fixture.Receiver.Otherwise("never", WebhookReply.Ok);
        using var replay = await http.PostAsync($"/api/webhook-deliveries/{deliveryId}/replay", null);
        Assert.Equal(HttpStatusCode.Accepted, replay.StatusCode);
        var delivered = await Eventually.ReturnsAsync(() => WebhookGatewayFixture.DeliveryAsync(http, deliveryId),
            d => d.Status == WebhookDeliveryStates.Delivered, "the replayed delivery to be delivered");
        var accepted = Assert.Single(fixture.Receiver.AcceptedBy("never"));
        Assert.Equal(deliveryId, accepted.Id);
        Assert.True(accepted.Verified);
        Assert.Equal(WebhookGatewayFixture.Attempts + 1, delivered.Attempts.Count);
        Assert.DoesNotContain((await WebhookGatewayFixture.FailedAsync(http)).Items, d => d.Id == deliveryId);

        using var again = await http.PostAsync($"/api/webhook-deliveries/{deliveryId}/replay", null);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal("application/problem+json", again.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_410_disables_the_endpoint_and_later_events_for_it_wait_in_the_failed_store_unsent()
    {
        using var http = fixture.As("gone");
        var endpoint = await fixture.RegisterAsync(http, "gone");
        fixture.Receiver.Otherwise("gone", new WebhookReply(410));

        var first = await fixture.CreateJobAsync(http, endpoint.Id);
        await WebhookGatewayFixture.EndedAsync(http, first);
        var disabled = await Eventually.ReturnsAsync(() => http.GetFromJsonAsync<WebhookEndpoint>($"/api/webhook-endpoints/{endpoint.Id}", Json),
            e => e!.Disabled, "the endpoint to be disabled");
        Assert.Contains("410", disabled!.DisabledReason);
        var firstDelivery = JobWebhooks.TerminalDeliveryId(first, endpoint.Id);
        var failed = await WebhookGatewayFixture.FailedAsync(http);
        Assert.Contains("410", failed.Items.Single(d => d.Id == firstDelivery).Error);
        // 410 is final: no retry.
        Assert.Single(fixture.ArrivalsOf("gone", first));

        // The endpoint is subscribed to every job event of its user: the next job's event is filed as failed, never sent.
        var second = await fixture.CreateJobAsync(http, endpointId: null);
        await WebhookGatewayFixture.EndedAsync(http, second);
        var secondDelivery = JobWebhooks.TerminalDeliveryId(second, endpoint.Id);
        failed = await Eventually.ReturnsAsync(() => WebhookGatewayFixture.FailedAsync(http),
            list => list.Items.Any(d => d.Id == secondDelivery), "the second job's delivery to be filed as failed");
        Assert.Contains("disabled", failed.Items.Single(d => d.Id == secondDelivery).Error);
        Assert.Empty(fixture.ArrivalsOf("gone", second));
        Assert.Single(fixture.Receiver.ArrivalsFor("gone"));

        using var replay = await http.PostAsync($"/api/webhook-deliveries/{firstDelivery}/replay", null);
        Assert.Equal(HttpStatusCode.Conflict, replay.StatusCode);
        Assert.Contains("disabled", await replay.Content.ReadAsStringAsync());

        // The failed store pages newest first.
        var page1 = await http.GetFromJsonAsync<WebhookDeliveryList>("/api/webhook-deliveries?status=failed&limit=1", Json);
        Assert.Equal(secondDelivery, Assert.Single(page1!.Items).Id);
        Assert.NotNull(page1.NextCursor);
        var page2 = await http.GetFromJsonAsync<WebhookDeliveryList>($"/api/webhook-deliveries?status=failed&limit=1&cursor={page1.NextCursor}", Json);
        Assert.Equal(firstDelivery, Assert.Single(page2!.Items).Id);
        Assert.Null(page2.NextCursor);
    }

    [Fact]
    public async Task A_delivery_whose_endpoint_is_deleted_while_it_waits_ends_in_the_failed_store_unsent()
    {
        using var http = fixture.As("deleter");
        var endpoint = await fixture.RegisterAsync(http, "deleter");
        // The first attempt fails and asks for 5 s: the endpoint is deleted in that gap.
        fixture.Receiver.Script("deleter", new WebhookReply(503, RetryAfterSeconds: 5));

        var job = await fixture.CreateJobAsync(http, endpoint.Id);
        await WebhookGatewayFixture.EndedAsync(http, job);
        await Eventually.TrueAsync(() => fixture.Receiver.ArrivalsFor("deleter").Count == 1, "the first attempt");
        Assert.Equal(HttpStatusCode.NoContent, (await http.DeleteAsync($"/api/webhook-endpoints/{endpoint.Id}")).StatusCode);

        var deliveryId = JobWebhooks.TerminalDeliveryId(job, endpoint.Id);
        var failed = await Eventually.ReturnsAsync(() => WebhookGatewayFixture.FailedAsync(http),
            list => list.Items.Any(d => d.Id == deliveryId), "the delivery to be filed as failed when next due");
        Assert.Contains("deleted", failed.Items.Single(d => d.Id == deliveryId).Error);
        Assert.Single(fixture.Receiver.ArrivalsFor("deleter"));
        using var replay = await http.PostAsync($"/api/webhook-deliveries/{deliveryId}/replay", null);
        Assert.Equal(HttpStatusCode.Conflict, replay.StatusCode);
        Assert.Contains("deleted", await replay.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_receivers_retry_after_sets_the_wait_before_the_next_attempt()
    {
        using var http = fixture.As("patient");
        var endpoint = await fixture.RegisterAsync(http, "patient");
        // The schedule would retry after 200 ms; the receiver asks for 2 s.
        fixture.Receiver.Script("patient", new WebhookReply(503, RetryAfterSeconds: 2));

        var job = await fixture.CreateJobAsync(http, endpoint.Id);
        await WebhookGatewayFixture.EndedAsync(http, job);
        await Eventually.TrueAsync(() => fixture.Receiver.AcceptedBy("patient").Count == 1, "the second attempt to be accepted");
        var arrivals = fixture.ArrivalsOf("patient", job);
        Assert.Equal(2, arrivals.Count);
        var gap = arrivals[1].ArrivedAt - arrivals[0].ArrivedAt;
        Assert.True(gap >= TimeSpan.FromSeconds(1.9), $"the retry came {gap.TotalMilliseconds:0} ms after a 'Retry-After: 2'");
    }

    [Fact]
    public async Task Registration_refuses_a_private_or_loopback_address_not_on_the_allow_list_and_names_the_field()
    {
        using var http = fixture.As("refused");
        foreach (var (url, reason) in new[]
        {
            ("http://10.0.0.7/hook", "private address"),
            ("http://192.168.1.20:8080/hook", "private address"),
            ("http://169.254.169.254/latest/meta-data", "cloud metadata address"),
            ("http://127.0.0.2:9/hook", "loopback address"),
            ("http://[::ffff:10.0.0.7]/hook", "private address"),
        })
        {
            using var response = await http.PostAsJsonAsync("/api/webhook-endpoints", new { url });
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{url} answered {(int)response.StatusCode}: {text}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            using var problem = JsonDocument.Parse(text);
            var message = problem.RootElement.GetProperty("errors").GetProperty("url")[0].GetString();
            Assert.Contains(reason, message);
        }
        (object Body, string Field)[] invalid =
        [
            (new { url = "ftp://127.0.0.1/hook" }, "url"),
            (new { url = "http://user:pw@127.0.0.1/hook" }, "url"),
            (new { url = "" }, "url"),
            (new { url = fixture.Receiver.UrlFor("refused"), events = new[] { "job.exploded" } }, "events[0]"),
        ];
        foreach (var (body, field) in invalid)
        {
            using var response = await http.PostAsJsonAsync("/api/webhook-endpoints", body);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty(field, out _), $"the problem does not name '{field}'");
        }
        // Nothing refused was stored.
        var list = await http.GetFromJsonAsync<JsonElement>("/api/webhook-endpoints", Json);
        Assert.Equal(0, list.GetProperty("items").GetArrayLength());

        // A job naming an endpoint the caller does not have is refused, naming the field.
        using var job = await http.PostAsJsonAsync("/api/search-jobs", new { query = "x", webhook = new { endpointId = "ep_" + new string('0', 32) } });
        Assert.Equal(HttpStatusCode.BadRequest, job.StatusCode);
        using var jobProblem = JsonDocument.Parse(await job.Content.ReadAsStringAsync());
        Assert.True(jobProblem.RootElement.GetProperty("errors").TryGetProperty("webhook.endpointId", out _));
    }

    [Fact]
    public async Task A_job_whose_cancel_races_its_completion_sends_exactly_one_terminal_delivery_matching_how_it_ended()
    {
        using var http = fixture.As("racer");
        var endpoint = await fixture.RegisterAsync(http, "racer");
        var ended = new List<JobStatus>();
        for (var i = 0; i < 12; i++)
        {
            var job = await fixture.CreateJobAsync(http, endpoint.Id);
            // From at once to past the provider's latency: some cancels win, some find the job completed.
            if (i % 4 != 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(new[] { 0, 5, 15, 40 }[i % 4]));
            }
            using var cancel = await http.PostAsync($"/api/search-jobs/{job}/cancel", null);
            Assert.True(cancel.StatusCode is HttpStatusCode.OK or HttpStatusCode.Conflict, $"cancel answered {(int)cancel.StatusCode}");
            ended.Add(await WebhookGatewayFixture.EndedAsync(http, job));
        }
        output.WriteLine(string.Join(", ", ended.GroupBy(j => j.Status).Select(g => $"{g.Count()} {g.Key}")));
        foreach (var job in ended)
        {
            var deliveryId = JobWebhooks.TerminalDeliveryId(job.JobId, endpoint.Id);
            await WebhookGatewayFixture.DeliveryWhenStoredAsync(http, deliveryId,
                d => d.Status == WebhookDeliveryStates.Delivered, $"job {job.JobId}'s delivery");
        }
        foreach (var job in ended)
        {
            var arrival = Assert.Single(fixture.ArrivalsOf("racer", job.JobId));
            using var body = JsonDocument.Parse(arrival.Body);
            Assert.Equal(WebhookEventTypes.ForJobStatus(job.Status), body.RootElement.GetProperty("type").GetString());
            Assert.Equal(job.Status, body.RootElement.GetProperty("data").GetProperty("status").GetString());
        }
        Assert.Equal(ended.Count, fixture.Receiver.ArrivalsFor("racer").Count);
    }
}
