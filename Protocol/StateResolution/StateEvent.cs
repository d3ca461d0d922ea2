using System.Text.Json.Nodes;

namespace Homeserver.Protocol.StateResolution;

/// <summary>
/// An event as the caller's storage holds it, with whether it was rejected. State resolution never
/// checks hashes or signatures; the caller has done that before the event reached storage.
/// </summary>
/// <param name="Json">The event's PDU JSON. Its ID is the one it was looked up by, so v3+ events need no <c>event_id</c>.</param>
/// <param name="Rejected">The event failed the authorization rules when it was received; the spec keeps rejected events out of the auth events used by the iterative auth checks.</param>
public sealed record StateEvent(JsonObject Json, bool Rejected = false);

/// <summary>
/// Fetches one event by ID, or null when the caller does not have it. Called at most once per event
/// and lazily: for v2 in breadth-first order from the state sets along <c>auth_events</c>, for v1
/// the conflicted events, then the unconflicted state their auth checks read.
/// </summary>
public delegate ValueTask<StateEvent?> EventLookup(string eventId, CancellationToken cancellationToken);
