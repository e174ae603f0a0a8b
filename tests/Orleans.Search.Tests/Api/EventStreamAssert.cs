namespace Orleans.Search.Tests.Api;

/// <summary>One SSE client's view of a job, checked the way a progress bar uses it.</summary>
public static class EventStreamAssert
{
    /// <summary>
    /// Every message has an id; ids strictly increase, after <paramref name="lastEventId"/> when the client sent one; a
    /// snapshot's id is the last seq it reflects and it can only come first; progress never goes back across the snapshot
    /// and the events; no event is skipped after the first message (no crash happened); the stream ends at the terminal
    /// event, or is a lone snapshot of a job that had already ended. Returns the first message's snapshot, if any.
    /// </summary>
    public static JobStatus? NeverGoesBack(IReadOnlyList<SseMessage> messages, long? lastEventId, string client = "client")
    {
        Assert.True(messages.Count > 0, $"{client}: the stream sent nothing");
        var trace = string.Join(", ", messages.Select(m => $"{m.Id ?? "-"}:{m.Event}"));
        Assert.True(lastEventId is not null || messages[0].Event == "snapshot", $"{client}: without Last-Event-ID the stream must start with a snapshot: {trace}");
        var lastId = lastEventId ?? -1;
        var progress = -1.0;
        JobStatus? snapshot = null;
        for (var i = 0; i < messages.Count; i++)
        {
            var m = messages[i];
            Assert.True(long.TryParse(m.Id, out var id), $"{client}: message {i} ('{m.Event}') has no numeric id: {trace}");
            Assert.True(id > lastId, $"{client}: id {id} after {lastId}: {trace}");
            double p;
            if (m.Event == "snapshot")
            {
                Assert.True(i == 0, $"{client}: a snapshot after other messages: {trace}");
                snapshot = GatewayApi.ParseSnapshot(m);
                Assert.Equal(snapshot.LastSeq, id);
                p = snapshot.Progress;
            }
            else
            {
                var e = GatewayApi.ParseEvent(m);
                Assert.Equal(e.Seq, id);
                Assert.Equal(e.Type, m.Event);
                if (i > 0 || lastEventId is not null)
                {
                    Assert.True(id == lastId + 1, $"{client}: event {id} follows {lastId}; the events between went missing: {trace}");
                }
                p = e.Progress;
            }
            Assert.True(p >= progress, $"{client}: progress went back from {progress} to {p} at id {id}: {trace}");
            progress = p;
            lastId = id;
        }
        var last = messages[^1];
        if (last.Event == "snapshot")
        {
            Assert.True(JobStates.IsTerminal(snapshot!.Status), $"{client}: the stream ended on a snapshot of a '{snapshot.Status}' job: {trace}");
        }
        else
        {
            Assert.True(JobEventTypes.IsTerminal(last.Event), $"{client}: the stream ended on '{last.Event}': {trace}");
            Assert.Single(messages, x => JobEventTypes.IsTerminal(x.Event));
        }
        return snapshot;
    }
}
