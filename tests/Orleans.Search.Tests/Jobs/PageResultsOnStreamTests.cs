using System.Collections.Concurrent;
using Orleans.Streams;

namespace Orleans.Search.Tests.Jobs;

/// <summary>A job's live stream carries each page's results on its <c>page.completed</c>; its stored tail does not.</summary>
[Collection(SearchClusterCollection.Name)]
public sealed class PageResultsOnStreamTests(SearchClusterFixture fixture)
{
    [Fact]
    public async Task Each_page_completed_on_the_progress_stream_carries_its_page_results_and_the_tail_keeps_them_out()
    {
        var queries = TestJobs.UniqueQueries("stream-results", 2);
        var submission = TestJobs.Submission(queries, pages: 3);
        var streamed = new ConcurrentQueue<JobEvent>();
        var terminal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handle = await fixture.Client.GetStreamProvider(SearchStreams.ProviderName)
            .GetStream<JobEvent>(SearchStreams.ForJob(submission.JobId))
            .SubscribeAsync((e, _) =>
            {
                streamed.Enqueue(e);
                if (JobEventTypes.IsTerminal(e.Type))
                {
                    terminal.TrySetResult();
                }
                return Task.CompletedTask;
            });
        var job = fixture.Client.GetGrain<ISearchJobGrain>(submission.JobId);

        await job.SubmitAsync(submission);
        await terminal.Task.WaitAsync(TimeSpan.FromSeconds(60));
        await handle.UnsubscribeAsync();

        var status = (await job.GetStatusAsync(submission.Owner, includeResults: true))!;
        Assert.Equal(JobStates.Completed, status.Status);
        var pages = streamed.Where(e => e.Type == JobEventTypes.PageCompleted).ToList();
        Assert.Equal(6, pages.Count);
        foreach (var e in pages)
        {
            Assert.NotNull(e.Results);
            Assert.Equal(10, e.Results.Count);
            Assert.All(e.Results, r => Assert.Equal((e.Query, e.Page!.Value), (r.Query, r.Page)));
            Assert.Equal(Enumerable.Range(1, 10), e.Results.Select(r => r.Rank));
        }
        Assert.Equal(status.Results.Select(r => r.Url).Order(), pages.SelectMany(e => e.Results!).Select(r => r.Url).Order());

        var tail = (await job.GetEventsAsync(submission.Owner, 0))!.Events.Where(e => e.Type == JobEventTypes.PageCompleted).ToList();
        Assert.Equal(pages.Select(e => e.Seq).Order(), tail.Select(e => e.Seq).Order());
        Assert.All(tail, e => Assert.Null(e.Results));
    }
}
