using System.Diagnostics;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace Orleans.Search.Tests.Jobs;

/// <summary>
/// The startup (and silo-death) sweep pokes every id in the active-job shards. Ids of jobs that finished or no longer
/// exist must not stall it: the sweep drops them from their shard itself, in one write.
/// </summary>
[Collection(SearchClusterCollection.Name)]
public sealed class ResumeSweepTests(SearchClusterFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task Sweeping_shards_full_of_finished_and_missing_jobs_is_prompt_and_empties_them_of_those()
    {
        var client = fixture.Client;
        var finished = new List<string>();
        foreach (var queries in Enumerable.Range(0, 4).Select(i => TestJobs.UniqueQueries($"sweep-finished {i}", 1)))
        {
            var submission = TestJobs.Submission(queries, pages: 1);
            var job = client.GetGrain<ISearchJobGrain>(submission.JobId);
            await job.SubmitAsync(submission);
            await Eventually.ReturnsAsync(() => job.GetStatusAsync(submission.Owner, includeResults: false),
                s => s is not null && JobStates.IsTerminal(s.Status), "the job to finish");
            // The job leaves its shard just after its terminal state; put it back only once it has, so it stays as a stale entry.
            await Eventually.ReturnsAsync(ShardJobIdsAsync, ids => !ids.Contains(submission.JobId), "the finished job to leave its shard");
            finished.Add(submission.JobId);
        }
        var missing = Enumerable.Range(0, 2000).Select(_ => Guid.NewGuid().ToString("N")).ToList();
        var stale = finished.Concat(missing).ToList();
        foreach (var chunk in stale.Chunk(200))
        {
            await Task.WhenAll(chunk.Select(id => client.GetGrain<IActiveJobsGrain>(ActiveJobShards.Of(id)).AddAsync(id)));
        }

        fixture.Searxng.Options.CloseGate();
        try
        {
            // One job really is unfinished: it stays.
            var running = TestJobs.Submission(TestJobs.UniqueQueries("sweep-running", 1), pages: 1);
            await client.GetGrain<ISearchJobGrain>(running.JobId).SubmitAsync(running);
            var shardIds = await ShardJobIdsAsync();
            Assert.Contains(running.JobId, shardIds);
            Assert.True(stale.All(shardIds.Contains), "every stale id is in a shard before the sweep");

            // The silo's sweep calls the shards one after another; here all at once, so the old deadlock (each stale job calling
            // back into its busy shard) would cost one call timeout (30 s) in all rather than one per shard. 15 s is generous
            // for 2000 look-ups on a loaded machine and well under that timeout.
            var timer = Stopwatch.StartNew();
            var stillActive = await Task.WhenAll(Enumerable.Range(0, ActiveJobShards.Count)
                .Select(shard => client.GetGrain<IActiveJobsGrain>(shard).ResumeAllAsync()));
            timer.Stop();
            output.WriteLine($"sweep of {stale.Count + 1} ids: {timer.ElapsedMilliseconds} ms; still active: {stillActive.Sum()}");
            Assert.True(timer.Elapsed < TimeSpan.FromSeconds(15), $"the sweep took {timer.Elapsed}");
            Assert.True(stillActive.Sum() >= 1, "the running job counts as still active");

            shardIds = await ShardJobIdsAsync();
            Assert.Contains(running.JobId, shardIds);
            var left = stale.Where(shardIds.Contains).ToList();
            Assert.True(left.Count == 0, $"{left.Count} stale ids are still in the shards, e.g. {left.FirstOrDefault()}");

            fixture.Searxng.Options.OpenGate();
            await Eventually.ReturnsAsync(() => client.GetGrain<ISearchJobGrain>(running.JobId).GetStatusAsync(running.Owner, includeResults: false),
                s => s is not null && s.Status == JobStates.Completed, "the running job to complete");
        }
        finally
        {
            fixture.Searxng.Options.OpenGate();
        }
    }

    /// <summary>Every id stored in the active-job shards (state name <c>active-jobs</c>, state <c>{"JobIds":[…]}</c>).</summary>
    private async Task<HashSet<string>> ShardJobIdsAsync()
    {
        await using var connection = new SqliteConnection(fixture.DatabaseConnectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT PayloadBinary FROM OrleansStorage WHERE GrainTypeString = 'active-jobs' AND PayloadBinary IS NOT NULL";
        var ids = new HashSet<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            using var state = JsonDocument.Parse((byte[])reader.GetValue(0));
            foreach (var id in state.RootElement.GetProperty("JobIds").EnumerateArray())
            {
                ids.Add(id.GetString()!);
            }
        }
        return ids;
    }
}
