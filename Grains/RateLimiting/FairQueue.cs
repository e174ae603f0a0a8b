namespace Orleans.Search.RateLimiting;

/// <summary>
/// Waiters served round-robin across users, then across each user's jobs, then first come first served:
/// one user's 50-query job cannot starve another user's 1-query job.
/// </summary>
public sealed class FairQueue<T>
{
    private readonly LinkedList<Lane<Lane<T>>> _users = new();
    private readonly Dictionary<string, LinkedListNode<Lane<Lane<T>>>> _userIndex = [];

    public int Count { get; private set; }

    public void Enqueue(string user, string job, T item)
    {
        if (!_userIndex.TryGetValue(user, out var userNode))
        {
            userNode = _users.AddLast(new Lane<Lane<T>>(user));
            _userIndex[user] = userNode;
        }
        var userLane = userNode.Value;
        if (!userLane.Index.TryGetValue(job, out var jobNode))
        {
            jobNode = userLane.Items.AddLast(new Lane<T>(job));
            userLane.Index[job] = jobNode;
        }
        jobNode.Value.Items.AddLast(item);
        Count++;
    }

    /// <summary>The item <see cref="TryDequeue"/> would take next, left in place.</summary>
    public bool TryPeek(out T item)
    {
        if (_users.First is not { } userNode)
        {
            item = default!;
            return false;
        }
        item = userNode.Value.Items.First!.Value.Items.First!.Value;
        return true;
    }

    /// <summary>Takes the next item in fair order; the lanes it came from go to the back of their rotations.</summary>
    public bool TryDequeue(out T item)
    {
        var userNode = _users.First;
        if (userNode is null)
        {
            item = default!;
            return false;
        }
        var userLane = userNode.Value;
        var jobNode = userLane.Items.First!;
        var jobLane = jobNode.Value;
        item = jobLane.Items.First!.Value;
        jobLane.Items.RemoveFirst();
        Count--;

        userLane.Items.RemoveFirst();
        if (jobLane.Items.Count > 0)
        {
            userLane.Items.AddLast(jobNode);
        }
        else
        {
            userLane.Index.Remove(jobLane.Key);
        }
        _users.RemoveFirst();
        if (userLane.Items.Count > 0)
        {
            _users.AddLast(userNode);
        }
        else
        {
            _userIndex.Remove(userLane.Key);
        }
        return true;
    }

    /// <summary>Removes the first item matching <paramref name="match"/>; returns whether one was found.</summary>
    public bool Remove(Func<T, bool> match)
    {
        foreach (var userLane in _users)
        {
            foreach (var jobLane in userLane.Items)
            {
                for (var node = jobLane.Items.First; node is not null; node = node.Next)
                {
                    if (match(node.Value))
                    {
                        jobLane.Items.Remove(node);
                        Count--;
                        if (jobLane.Items.Count == 0)
                        {
                            userLane.Items.Remove(userLane.Index[jobLane.Key]);
                            userLane.Index.Remove(jobLane.Key);
                            if (userLane.Items.Count == 0)
                            {
                                _users.Remove(_userIndex[userLane.Key]);
                                _userIndex.Remove(userLane.Key);
                            }
                        }
                        return true;
                    }
                }
            }
        }
        return false;
    }

    private sealed class Lane<TItem>(string key)
    {
        public string Key { get; } = key;

        public LinkedList<TItem> Items { get; } = new();

        public Dictionary<string, LinkedListNode<TItem>> Index { get; } = [];
    }
}
