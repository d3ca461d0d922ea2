namespace Homeserver.Protocol.StateResolution;

/// <summary>
/// The v2 "mainline ordering": events sort by how far back along the resolved power levels'
/// chain of power-level auth events their own power-level chain first meets it (further back
/// first, never meeting first of all), then by origin_server_ts, then by event ID.
/// </summary>
internal static class MainlineOrdering
{
    public static List<ResolutionEvent> Sort(EventGraph graph, string? powerLevelsId, IEnumerable<ResolutionEvent> events)
    {
        var mainline = Mainline(graph, powerLevelsId);
        return events
            .Select(e => (Event: e, Position: Position(graph, mainline, e)))
            .OrderByDescending(p => p.Position)
            .ThenBy(p => p.Event.OriginServerTs)
            .ThenBy(p => p.Event.Id, StringComparer.Ordinal)
            .Select(p => p.Event)
            .ToList();
    }

    /// <summary>The mainline of P0: P0, the power levels in its auth events, theirs, and so on, mapped to their index.</summary>
    internal static Dictionary<string, int> Mainline(EventGraph graph, string? powerLevelsId)
    {
        var mainline = new Dictionary<string, int>(StringComparer.Ordinal);
        // The visited check stops a hostile cycle of power levels citing each other.
        for (var id = powerLevelsId; id is not null && !mainline.ContainsKey(id); id = PowerLevelsAuthEvent(graph, graph[id]))
        {
            mainline[id] = mainline.Count;
        }
        return mainline;
    }

    /// <summary>The index in the mainline of the first of e1, e2, ... on it, or int.MaxValue (the spec's ∞) when none is.</summary>
    internal static int Position(EventGraph graph, IReadOnlyDictionary<string, int> mainline, ResolutionEvent evt)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var id = PowerLevelsAuthEvent(graph, evt); id is not null && seen.Add(id); id = PowerLevelsAuthEvent(graph, graph[id]))
        {
            if (mainline.TryGetValue(id, out var position)) return position;
        }
        return int.MaxValue;
    }

    private static string? PowerLevelsAuthEvent(EventGraph graph, ResolutionEvent evt) =>
        evt.AuthEvents.FirstOrDefault(id => graph[id] is { Type: "m.room.power_levels", StateKey: "" });
}
