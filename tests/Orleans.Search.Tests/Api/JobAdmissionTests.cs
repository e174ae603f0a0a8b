using System.Net;

namespace Orleans.Search.Tests.Api;

/// <summary>
/// Per-user admission beyond active jobs: jobs created per minute and jobs kept. Each test runs its own gateway with that
/// limit set low (no keys: every caller is user <c>local</c>) and jobs on the <c>local</c> provider, which finish at once
/// and spend no provider permit, so nothing but admission can stop a caller from creating them.
/// </summary>
public sealed class JobAdmissionTests
{
    [Fact]
    public async Task Creating_over_MaxJobsPerMinute_is_429_with_Retry_After_of_when_a_slot_frees_even_under_concurrent_creates()
    {
        const int perMinute = 4;
        await using var gateway = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["Limits:User:MaxJobsPerMinute"] = perMinute.ToString(),
            ["Limits:User:MaxStoredJobs"] = "1000",
            ["Limits:User:MaxActiveJobs"] = "1000",
        });
        var http = gateway.Http;

        // Three times the limit at once, each with its own key: exactly the limit gets through.
        var keys = Enumerable.Range(0, 3 * perMinute).Select(i => $"per-minute-{i}-{Guid.NewGuid():N}").ToList();
        var specs = keys.Select(_ => new { query = TestJobs.UniqueQueries("per-minute", 1)[0], provider = "local" }).ToList();
        var responses = await Task.WhenAll(keys.Select((key, i) => GatewayApi.CreateAsync(http, specs[i], key)));
        var accepted = new List<(int Index, string JobId)>();
        for (var i = 0; i < responses.Length; i++)
        {
            using var response = responses[i];
            if (response.StatusCode == HttpStatusCode.Accepted)
            {
                accepted.Add((i, (await GatewayApi.ReadJobAsync(response)).JobId));
                continue;
            }
            var problem = await GatewayApi.ReadProblemAsync(response, HttpStatusCode.TooManyRequests);
            Assert.Contains(perMinute.ToString(), problem.Detail, StringComparison.Ordinal);
            AssertRetryAfterWithin(response, TimeSpan.FromSeconds(60));
        }
        Assert.Equal(perMinute, accepted.Count);
        Assert.Equal(perMinute, (await GatewayApi.ListAllAsync(http)).Count);

        // One more, without a key, and through POST /api/search: refused, nothing created.
        using (var over = await GatewayApi.CreateAsync(http, new { query = "one too many", provider = "local" }))
        using (var overSearch = await GatewayApi.PostAsync(http, "/api/search", GatewayApi.ToJson(new { query = "one too many", provider = "local" })))
        {
            foreach (var response in new[] { over, overSearch })
            {
                var problem = await GatewayApi.ReadProblemAsync(response, HttpStatusCode.TooManyRequests);
                Assert.Contains("minute", problem.Detail, StringComparison.Ordinal);
                Assert.Null(response.Headers.Location);
                AssertRetryAfterWithin(response, TimeSpan.FromSeconds(60));
            }
        }
        Assert.Equal(perMinute, (await GatewayApi.ListAllAsync(http)).Count);

        // A retry of a job that exists is not a new job: it is answered, whatever the limits say.
        var retried = await GatewayApi.CreateJobAsync(http, specs[accepted[0].Index], keys[accepted[0].Index]);
        Assert.Equal(accepted[0].JobId, retried.JobId);
    }

    [Fact]
    public async Task Creating_over_MaxStoredJobs_is_429_saying_to_delete_or_wait_for_retention_and_retries_still_answer()
    {
        const int stored = 3;
        await using var gateway = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["Limits:User:MaxJobsPerMinute"] = "1000",
            ["Limits:User:MaxStoredJobs"] = stored.ToString(),
            ["Limits:User:MaxActiveJobs"] = "1000",
        });
        var http = gateway.Http;

        var keys = Enumerable.Range(0, 4 * stored).Select(i => $"stored-{i}-{Guid.NewGuid():N}").ToList();
        var specs = keys.Select(_ => new { query = TestJobs.UniqueQueries("stored", 1)[0], provider = "local" }).ToList();
        var responses = await Task.WhenAll(keys.Select((key, i) => GatewayApi.CreateAsync(http, specs[i], key)));
        var accepted = new List<(int Index, string JobId)>();
        for (var i = 0; i < responses.Length; i++)
        {
            using var response = responses[i];
            if (response.StatusCode == HttpStatusCode.Accepted)
            {
                accepted.Add((i, (await GatewayApi.ReadJobAsync(response)).JobId));
            }
            else
            {
                await GatewayApi.ReadProblemAsync(response, HttpStatusCode.TooManyRequests);
            }
        }
        Assert.Equal(stored, accepted.Count);

        // Finished jobs are still stored: they count until deleted or expired.
        foreach (var (_, jobId) in accepted)
        {
            await GatewayApi.WaitForEndAsync(http, jobId);
        }
        using (var over = await GatewayApi.CreateAsync(http, new { query = "one too many", provider = "local" }))
        {
            var problem = await GatewayApi.ReadProblemAsync(over, HttpStatusCode.TooManyRequests);
            Assert.Contains(stored.ToString(), problem.Detail, StringComparison.Ordinal);
            Assert.Contains("delete", problem.Detail, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("retention", problem.Detail, StringComparison.OrdinalIgnoreCase);
            Assert.Null(over.Headers.Location);
            // Default retention is 24 h: the oldest finished job frees a place then; the header says when, bounded to an hour.
            AssertRetryAfterWithin(over, TimeSpan.FromHours(1));
        }
        Assert.Equal(accepted.Select(a => a.JobId).Order(), (await GatewayApi.ListAllAsync(http)).Select(j => j.JobId).Order());

        var retried = await GatewayApi.CreateJobAsync(http, specs[accepted[^1].Index], keys[accepted[^1].Index]);
        Assert.Equal(accepted[^1].JobId, retried.JobId);
    }

    private static void AssertRetryAfterWithin(HttpResponseMessage response, TimeSpan max)
    {
        var delta = response.Headers.RetryAfter?.Delta;
        Assert.True(delta is { } d && d > TimeSpan.Zero && d <= max, $"Retry-After should be 1 s to {max}; it is '{response.Headers.RetryAfter}'");
    }
}
