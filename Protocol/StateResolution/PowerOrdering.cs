namespace Homeserver.Protocol.StateResolution;

/// <summary>
/// The v2 "reverse topological power ordering": Kahn's algorithm over the auth-event DAG restricted
/// to the given events, earliest first, taking at each step the smallest ready event by (sender's
/// power level descending, origin_server_ts, event ID). The sender's level is read from the
/// event's own auth events, not from any resolved state.
/// </summary>
internal static class PowerOrdering
{
    /// <summary>The ordered events, or null when their auth events form a cycle.</summary>
    public static List<ResolutionEvent>? Sort(EventGraph graph, IReadOnlySet<string> eventIds, RoomVersion version)
    {
        // Edges run from an event to the auth events it cites; an event is ready once every auth
        // event of it inside the set has been emitted.
        var waitingOn = new Dictionary<string, int>(StringComparer.Ordinal);
        var citedBy = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var id in eventIds)
        {
            var inSet = graph[id].AuthEvents.Distinct().Where(eventIds.Contains).ToList();
            waitingOn[id] = inSet.Count;
            foreach (var authId in inSet)
            {
                if (!citedBy.TryGetValue(authId, out var list)) citedBy[authId] = list = [];
                list.Add(id);
            }
        }

        var ready = new PriorityQueue<ResolutionEvent, ResolutionEvent>(Comparer<ResolutionEvent>.Create(new PowerComparer(graph, version).Compare));
        foreach (var (id, count) in waitingOn)
        {
            if (count == 0) ready.Enqueue(graph[id], graph[id]);
        }
        var ordered = new List<ResolutionEvent>(eventIds.Count);
        while (ready.TryDequeue(out var next, out _))
        {
            ordered.Add(next);
            foreach (var citing in citedBy.GetValueOrDefault(next.Id) ?? [])
            {
                if (--waitingOn[citing] == 0) ready.Enqueue(graph[citing], graph[citing]);
            }
        }
        return ordered.Count == eventIds.Count ? ordered : null;
    }

    private sealed class PowerComparer(EventGraph graph, RoomVersion version)
    {
        private readonly Dictionary<string, long> _senderLevels = new(StringComparer.Ordinal);

        public int Compare(ResolutionEvent? x, ResolutionEvent? y)
        {
            var byPower = SenderLevel(y!).CompareTo(SenderLevel(x!));
            if (byPower != 0) return byPower;
            var byTs = x!.OriginServerTs.CompareTo(y!.OriginServerTs);
            return byTs != 0 ? byTs : string.CompareOrdinal(x.Id, y.Id);
        }

        private long SenderLevel(ResolutionEvent evt)
        {
            if (!_senderLevels.TryGetValue(evt.Id, out var level))
            {
                var authState = graph.AuthState(graph.AuthEventState(evt));
                _senderLevels[evt.Id] = level = authState.PowerLevels(version).UserLevel(evt.Sender);
            }
            return level;
        }
    }
}
