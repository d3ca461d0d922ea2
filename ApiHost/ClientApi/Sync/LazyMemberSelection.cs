using System.Text.Json.Nodes;
using Homeserver.ApiHost.ClientApi.Rooms;
using Homeserver.Protocol;
using Homeserver.Storage.Rooms;

namespace Homeserver.ApiHost.ClientApi.Sync;

/// <summary>
/// One sync's lazy loading of members (the state filter's <c>lazy_load_members</c>): which member
/// events each room's state needs (the timeline's senders, as Synapse picks them), which of them the
/// device already has, and what the response sent, for the next sync to leave out.
/// </summary>
internal sealed class LazyMemberSelection(RoomEventFilter? stateFilter, string userId, string deviceId, long? sinceEvents, LazyLoadedMembers memory)
{
    private readonly List<(string RoomId, string Member, string EventId)> _sent = [];

    public bool Lazy { get; } = stateFilter?.LazyLoadMembers == true;

    private bool Deduplicates => Lazy && stateFilter?.IncludeRedundantMembers != true;

    /// <summary>
    /// The members the timeline needs: each sender whose membership the timeline does not bring before
    /// their first event, and the user when <paramref name="includeUser"/> (a full sync, as Synapse does,
    /// so that the client knows its own membership). Empty without lazy loading.
    /// </summary>
    public IReadOnlySet<string> Needed(IEnumerable<RoomEventRow> timeline, bool includeUser)
    {
        var needed = new HashSet<string>(StringComparer.Ordinal);
        if (!Lazy) return needed;
        var broughtByTimeline = new HashSet<string>(StringComparer.Ordinal);
        foreach (var row in timeline)
        {
            var pdu = StoredJson.Parse(row.Json);
            if (pdu?["sender"]?.ToString() is { } sender && !broughtByTimeline.Contains(sender)) needed.Add(sender);
            if (MemberOf(pdu) is { } member) broughtByTimeline.Add(member);
        }
        if (includeUser) needed.Add(userId);
        return needed;
    }

    /// <summary>Whether an earlier response the client has taken in gave this device some member event of <paramref name="member"/>.</summary>
    public bool DeviceHas(string roomId, string member) =>
        Deduplicates && sinceEvents is { } since && memory.KnowsMember(userId, deviceId, roomId, member, since);

    /// <summary>
    /// The room's state with member events cut to the <paramref name="needed"/> ones (and, in a gappy
    /// sync, those sent in the gap), less those the device already has. Unchanged without lazy loading.
    /// </summary>
    public IReadOnlyList<RoomEventRow> Select(string roomId, IReadOnlyList<RoomEventRow> state, IReadOnlySet<string> needed, bool changedInGap)
    {
        if (!Lazy) return state;
        return state.Where(row => MemberOf(row) is not { } member ||
            ((needed.Contains(member) || (changedInGap && row.StreamOrdering > sinceEvents)) && !Has(roomId, member, row.EventId))).ToList();
    }

    private bool Has(string roomId, string member, string eventId) =>
        Deduplicates && sinceEvents is { } since && memory.Knows(userId, deviceId, roomId, member, eventId, since);

    /// <summary>Notes the member events a joined room's body carries, in state and timeline.</summary>
    public void Sent(string roomId, JsonObject roomBody)
    {
        if (!Deduplicates) return;
        foreach (var section in new[] { "state", "timeline" })
        {
            foreach (var e in roomBody[section]?["events"]?.AsArray().OfType<JsonObject>() ?? [])
            {
                if (MemberOf(e) is { } member && e["event_id"]?.ToString() is { } eventId) _sent.Add((roomId, member, eventId));
            }
        }
    }

    /// <summary>Remembers what this response sent, under its events position; an initial sync first forgets the device's past.</summary>
    public void Remember(long sentAt)
    {
        if (!Deduplicates) return;
        if (sinceEvents is null) memory.Forget(userId, deviceId);
        memory.Remember(userId, deviceId, _sent, sentAt);
    }

    public static string? MemberOf(RoomEventRow row) => MemberOf(StoredJson.Parse(row.Json));

    private static string? MemberOf(JsonNode? pdu) =>
        pdu?["type"]?.ToString() == "m.room.member" ? pdu["state_key"]?.ToString() : null;
}
