using System.Net;
using System.Net.Http.Json;
using Xunit.Abstractions;

namespace Orleans.Search.Tests.Cluster;

/// <summary>
/// A create that could not be stored answers 503 and leaves nothing half made: a retry with the same Idempotency-Key
/// creates the job for real, and it runs to the end. The failures are real refusals by PostgreSQL on the test's own
/// database: first every grain-state write (privileges revoked), then only the job's own row (a trigger).
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class AtomicCreateTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_create_whose_write_failed_is_503_and_a_retry_with_the_same_key_creates_a_job_that_completes()
    {
        await using var cluster = await PostgresCluster.CreateAsync();
        await cluster.StartSilosAsync(1);
        var gateway = await cluster.StartGatewayAsync();
        var database = cluster.Database;
        try
        {
            await CreateFailsThenRetrySucceedsAsync(gateway,
                refuse: "REVOKE INSERT, UPDATE ON orleansstorage FROM orleans_search",
                allow: "GRANT INSERT, UPDATE ON orleansstorage TO orleans_search");

            await CreateFailsThenRetrySucceedsAsync(gateway,
                refuse: """
                    CREATE FUNCTION test_refuse_job_rows() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN RAISE EXCEPTION 'refused by the test: job rows'; END $$;
                    CREATE TRIGGER test_refuse_job_rows BEFORE INSERT OR UPDATE ON orleansstorage
                        FOR EACH ROW WHEN (NEW.graintypestring = 'job') EXECUTE FUNCTION test_refuse_job_rows();
                    """,
                allow: "DROP TRIGGER test_refuse_job_rows ON orleansstorage; DROP FUNCTION test_refuse_job_rows();");
        }
        catch
        {
            output.WriteLine(cluster.Logs());
            throw;
        }

        async Task CreateFailsThenRetrySucceedsAsync(GatewayProcess gateway, string refuse, string allow)
        {
            var key = "atomic-" + Guid.NewGuid().ToString("N");
            var spec = new { queries = TestJobs.UniqueQueries("atomic", 2), pages = 2 };
            using var http = gateway.Http();

            await database.ScalarAsync<int>(refuse);
            try
            {
                using var refused = await PostAsync(http, spec, key);
                var body = await refused.Content.ReadAsStringAsync();
                Assert.True(refused.StatusCode == HttpStatusCode.ServiceUnavailable, $"create while refused answered {(int)refused.StatusCode}: {body}");
                Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            }
            finally
            {
                await database.ScalarAsync<int>(allow);
            }

            using var accepted = await PostAsync(http, spec, key);
            Assert.True(accepted.StatusCode == HttpStatusCode.Accepted,
                $"the retry answered {(int)accepted.StatusCode}: {await accepted.Content.ReadAsStringAsync()}");
            var job = (await accepted.Content.ReadFromJsonAsync<JobStatus>(PostgresCluster.Json))!;
            var done = (await cluster.WaitForAllAsync(gateway, [job.JobId], TimeSpan.FromSeconds(60)))[0];
            Assert.Equal((JobStates.Completed, 40), (done.Status, done.Results.Count));

            // Stored for real: listed (the index learns of the end just after the job's own row does).
            await Eventually.ReturnsAsync(() => http.GetFromJsonAsync<JobList>("/api/search-jobs?limit=100", PostgresCluster.Json),
                list => list!.Items.Any(j => j.JobId == job.JobId && j.Status == JobStates.Completed), $"job {job.JobId} listed as completed");
        }
    }

    private static Task<HttpResponseMessage> PostAsync(HttpClient http, object spec, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/search-jobs") { Content = JsonContent.Create(spec) };
        request.Headers.Add("Idempotency-Key", key);
        return http.SendAsync(request);
    }
}
