using Orleans.Search.Fakes;
using Orleans.Search.Reading;

namespace Orleans.Search.Tests.Jobs;

/// <summary>
/// The stage model on a real cluster, with no LLM: a job that reads runs <c>search</c> then <c>read</c> (the snippets
/// stand in, as no page reader is configured), shows both in its stages and events, and its progress only rises.
/// </summary>
[Collection(SearchClusterCollection.Name)]
public sealed class StagePipelineTests(SearchClusterFixture fixture)
{
    [Fact]
    public async Task A_job_that_reads_runs_search_then_read_with_stage_events_and_progress_rising_to_100()
    {
        var submission = TestJobs.Submission(TestJobs.UniqueQueries("stages", 2), pages: 2) with { ReadCount = 3 };
        var job = fixture.Client.GetGrain<ISearchJobGrain>(submission.JobId);

        var accepted = await job.SubmitAsync(submission);
        Assert.Equal([StageNames.Search, StageNames.Read], accepted.Stages.Select(s => s.Name));
        Assert.Equal((4, 3), (accepted.Stages[0].UnitsTotal, accepted.Stages[1].UnitsTotal));

        var done = await Eventually.ReturnsAsync(() => job.GetStatusAsync(submission.Owner, includeResults: false),
            s => JobStates.IsTerminal(s!.Status), "the job's end", TimeSpan.FromSeconds(60));
        Assert.Equal((JobStates.Completed, 100.0, (string?)null), (done!.Status, done.Progress, done.CurrentStep));
        Assert.All(done.Stages, s => Assert.Equal(StageStates.Completed, s.Status));
        Assert.Equal((4, 4), (done.Stages[0].UnitsDone, done.Stages[0].UnitsTotal));
        Assert.Equal((3, 3), (done.Stages[1].UnitsDone, done.Stages[1].UnitsTotal));
        Assert.Equal(3, done.Reads.Count);
        Assert.All(done.Reads, r => Assert.Equal((PageReadStatuses.Skipped, (string?)null), (r.Status, r.Text)));
        Assert.All(done.Queries, q => Assert.Equal(QueryOrigins.User, q.Origin));

        var events = (await job.GetEventsAsync(submission.Owner, 0))!.Events;
        var stageEvents = events.Where(e => e.Type is JobEventTypes.StageStarted or JobEventTypes.StageCompleted)
            .Select(e => $"{e.Type}:{e.Stage}").ToList();
        Assert.Equal(["stage.started:search", "stage.completed:search", "stage.started:read", "stage.completed:read"], stageEvents);
        Assert.Equal(3, events.Count(e => e.Type == JobEventTypes.ReadCompleted));
        Assert.Equal(3, events.Where(e => e.Type == JobEventTypes.ReadCompleted).Select(e => e.Url).Distinct().Count());
        var progress = events.Select(e => e.Progress).ToList();
        Assert.Equal(progress.Order(), progress);
        Assert.Equal(JobEventTypes.Completed, events[^1].Type);
        Assert.Equal(100, events[^1].Progress);
        Assert.True(events.Where(e => e.Type == JobEventTypes.ReadCompleted).All(e => e.Progress < 100));
    }
}
