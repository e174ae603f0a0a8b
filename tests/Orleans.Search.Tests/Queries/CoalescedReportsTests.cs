using Orleans.Search.Queries;

namespace Orleans.Search.Tests.Queries;

/// <summary>A query's reports to its job: one in flight, the rest coalesced, and none lost however a send completes.</summary>
public sealed class CoalescedReportsTests
{
    [Fact]
    public void A_send_that_completes_before_it_is_awaited_does_not_block_the_next_report()
    {
        // A grain call whose answer arrived before the await: the whole round runs inside Request.
        var sends = 0;
        var reports = new CoalescedReports(() =>
        {
            sends++;
            return Task.CompletedTask;
        });

        reports.Request();
        reports.Request();
        reports.Request();

        Assert.Equal(3, sends);
        Assert.False(reports.IsSending);
    }

    [Fact]
    public Task Requests_made_while_a_send_is_in_flight_coalesce_into_one_more_send() => Task.Run(() =>
    {
        // Off any synchronization context, as in a grain: a completed send's continuation runs inside SetResult.
        var inFlight = new List<TaskCompletionSource>();
        var reports = new CoalescedReports(() =>
        {
            var send = new TaskCompletionSource();
            inFlight.Add(send);
            return send.Task;
        });

        reports.Request();
        reports.Request();
        reports.Request();
        Assert.Single(inFlight);
        Assert.True(reports.IsSending);

        inFlight[0].SetResult();
        Assert.Equal(2, inFlight.Count);
        Assert.True(reports.IsSending);

        inFlight[1].SetResult();
        Assert.Equal(2, inFlight.Count);
        Assert.False(reports.IsSending);

        // After the round: a request starts a new one.
        reports.Request();
        Assert.Equal(3, inFlight.Count);
        inFlight[2].SetResult();
        Assert.False(reports.IsSending);
    });
}
