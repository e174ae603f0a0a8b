using Orleans.Search.Client;

namespace Orleans.Search.Tests.Client;

/// <summary><see cref="JobProgressStreams.FollowJobAsync"/> on a two-silo test cluster: a cluster client following the Orleans stream itself.</summary>
[Collection(SearchClusterCollection.Name)]
public sealed class JobProgressStreamTests(SearchClusterFixture fixture)
{
    [Fact]
    public async Task A_late_subscriber_gets_every_event_once_in_order_including_those_published_before_it_subscribed()
    {
        var searxng = fixture.Searxng;
        var queries = TestJobs.UniqueQueries("stream-late", 2);
        var submission = TestJobs.Submission(queries, pages: 3);
        var job = fixture.Client.GetGrain<ISearchJobGrain>(submission.JobId);
        searxng.Options.CloseGate();
        List<JobEvent> received;
        try
        {
            await job.SubmitAsync(submission);
            // Published before anyone follows: created, started and the queries' starts, with calls held at the provider.
            await searxng.WaitUntilAsync(f => queries.Sum(q => Enumerable.Range(1, 3).Sum(p => f.RequestsFor(q, p))) >= 2, TimeSpan.FromSeconds(30));
            var before = (await job.GetEventsAsync(submission.Owner, 0))!.Events;
            Assert.Contains(before, e => e.Type == JobEventTypes.Created);

            // The tail is read only when the stream goes quiet for ten minutes, which never happens here: every event
            // after the catch-up has to come through the stream subscription.
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            var follow = Task.Run(async () =>
            {
                var events = new List<JobEvent>();
                await foreach (var e in fixture.Client.FollowJobAsync(submission.JobId, submission.Owner, quietPoll: TimeSpan.FromMinutes(10),
                    cancellationToken: deadline.Token))
                {
                    events.Add(e);
                    if (events.Count == before.Count)
                    {
                        searxng.Options.OpenGate();
                    }
                }
                return events;
            });
            received = await follow;
        }
        finally
        {
            searxng.Options.OpenGate();
        }

        var all = (await job.GetEventsAsync(submission.Owner, 0))!;
        Assert.Equal(all.Events.Select(e => (e.Seq, e.Type)), received.Select(e => (e.Seq, e.Type)));
        Assert.Equal(JobEventTypes.Created, received[0].Type);
        Assert.Equal(JobEventTypes.Completed, received[^1].Type);
        Assert.Equal(6, received.Count(e => e.Type == JobEventTypes.PageCompleted));
        TestJobs.AssertWellOrdered(received);
    }

    [Fact]
    public async Task A_follower_of_a_finished_job_gets_its_retained_events_after_the_given_seq_and_ends()
    {
        var submission = TestJobs.Submission(TestJobs.UniqueQueries("stream-done", 1), pages: 2);
        var job = fixture.Client.GetGrain<ISearchJobGrain>(submission.JobId);
        await job.SubmitAsync(submission);
        await Eventually.ReturnsAsync(() => job.GetStatusAsync(submission.Owner, false), s => JobStates.IsTerminal(s!.Status), "the job to end");
        var all = (await job.GetEventsAsync(submission.Owner, 0))!.Events;

        var fromStart = new List<JobEvent>();
        await foreach (var e in fixture.Client.FollowJobAsync(submission.JobId, submission.Owner))
        {
            fromStart.Add(e);
        }
        var fromMiddle = new List<JobEvent>();
        await foreach (var e in fixture.Client.FollowJobAsync(submission.JobId, submission.Owner, afterSeq: all[2].Seq))
        {
            fromMiddle.Add(e);
        }

        Assert.Equal(all.Select(e => e.Seq), fromStart.Select(e => e.Seq));
        Assert.Equal(all.Skip(3).Select(e => e.Seq), fromMiddle.Select(e => e.Seq));
        await Assert.ThrowsAsync<KeyNotFoundException>(async () =>
        {
            await foreach (var _ in fixture.Client.FollowJobAsync(submission.JobId, "someone-else"))
            {
            }
        });
    }
}
