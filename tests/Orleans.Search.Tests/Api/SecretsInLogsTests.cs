using System.Net;
using System.Net.Http.Headers;
using Orleans.Search.Fakes;

namespace Orleans.Search.Tests.Api;

[Collection(ProcessGatewayCollection.Name)]
public sealed class SecretsInLogsTests(ProcessGatewayFixture fixture)
{
    private const string WrongKey = "gateway-secret-wrong-19fe6a3d";

    [Fact]
    public async Task No_API_key_appears_in_the_gateway_output_even_at_Debug_level()
    {
        // Calls that carry every key through the gateway: the admin's as a Bearer token, the user's as X-Api-Key, a
        // wrong key both ways, and jobs whose provider calls carry the provider's key (the fake refuses calls without
        // it, so a completed job proves the key was sent), one of them failing at the provider and retried.
        var queries = TestJobs.UniqueQueries("secrets", 2);
        var failing = queries[1];
        fixture.Searxng.Options.Faults = s => s.Query == failing ? FakeSearxngFault.Status(503) : null;
        try
        {
            foreach (var http in new[] { fixture.AdminHttp, fixture.UserHttp })
            {
                var created = await GatewayApi.CreateJobAsync(http, new { queries, cache = false });
                var done = await GatewayApi.WaitForEndAsync(http, created.JobId);
                Assert.Equal(JobStates.Completed, done.Status);
                Assert.Equal(10, done.Stats.TotalResults);
                Assert.Contains("503", done.Queries[1].Error, StringComparison.Ordinal);
                await GatewayApi.ReadEventsAsync(http, created.JobId);
                await GatewayApi.GetJsonAsync(http, $"/api/search-jobs/{created.JobId}/debug");
                await GatewayApi.GetJsonAsync(http, "/api/rate-limits");
                await GatewayApi.ListAsync(http);
            }
        }
        finally
        {
            fixture.Searxng.Options.Faults = null;
        }
        Assert.Equal(2, fixture.Searxng.SuccessesFor(queries[0], 1));
        using (var wrong = fixture.Gateway.Http())
        {
            wrong.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", WrongKey);
            using var byBearer = await wrong.GetAsync("/api/search-jobs");
            Assert.Equal(HttpStatusCode.Unauthorized, byBearer.StatusCode);
            wrong.DefaultRequestHeaders.Authorization = null;
            wrong.DefaultRequestHeaders.Add("X-Api-Key", WrongKey);
            using var byHeader = await wrong.GetAsync("/api/search-jobs");
            Assert.Equal(HttpStatusCode.Unauthorized, byHeader.StatusCode);
        }

        // The console logger writes in order: once a last request is in the output, so is everything before it.
        var marker = $"/api/search-jobs/{Guid.NewGuid():N}";
        using (await fixture.UserHttp.GetAsync(marker))
        {
        }
        await Eventually.TrueAsync(() => fixture.Gateway.Output.Contains(marker, StringComparison.Ordinal), "the last request in the gateway's output");

        var output = fixture.Gateway.Output;
        foreach (var secret in new[] { ProcessGatewayFixture.Admin.Secret, ProcessGatewayFixture.User.Secret, ProcessGatewayFixture.ProviderKey, WrongKey })
        {
            var at = output.IndexOf(secret, StringComparison.Ordinal);
            Assert.True(at < 0, $"'{secret}' is in the gateway's output: …{output[Math.Max(0, at - 300)..Math.Min(output.Length, at + 100)]}…");
        }
        // The output really is at Debug level and saw the calls, and the provider calls' headers (redacted) at Trace.
        Assert.Contains("dbug: ", output, StringComparison.Ordinal);
        Assert.Contains("trce: System.Net.Http.HttpClient", output, StringComparison.Ordinal);
        Assert.Contains("Authorization: *", output, StringComparison.Ordinal);
    }
}
