using System.Net;
using System.Net.Http.Json;

namespace Orleans.Search.Tests.Jobs;

public sealed class RetentionTests
{
    [Fact]
    public async Task A_finished_job_is_deleted_after_the_retention_period()
    {
        // 0.0005 h = 1.8 s
        await using var gateway = await GatewayHost.StartAsync(new Dictionary<string, string?> { ["Jobs:RetentionHours"] = "0.0005" });
        var created = await gateway.Http.PostAsJsonAsync("/api/search-jobs", new { query = "token bucket" });
        var job = (await created.Content.ReadFromJsonAsync<JobStatus>())!;

        var done = await Eventually.ReturnsAsync(() => gateway.Http.GetFromJsonAsync<JobStatus>($"/api/search-jobs/{job.JobId}"),
            s => JobStates.IsTerminal(s!.Status), "the job to finish");
        Assert.Equal(JobStates.Completed, done!.Status);
        Assert.NotEmpty(done.Results);

        await Eventually.ReturnsAsync(async () => (await gateway.Http.GetAsync($"/api/search-jobs/{job.JobId}")).StatusCode,
            code => code == HttpStatusCode.NotFound, "the job to be deleted");
        var list = await gateway.Http.GetFromJsonAsync<JobList>("/api/search-jobs");
        Assert.DoesNotContain(list!.Items, j => j.JobId == job.JobId);
    }
}
