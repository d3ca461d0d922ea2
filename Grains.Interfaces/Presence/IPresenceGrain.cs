using Orleans;

namespace Homeserver.Grains.Interfaces.Presence;

/// <summary>Writer of one user's presence (key: user ID), on the single <c>presence</c> writer.</summary>
[Alias("IPresenceGrain")]
public interface IPresenceGrain : IGrainWithStringKey
{
    /// <summary>Sets online, unavailable or offline, with an optional status message.</summary>
    Task SetPresenceAsync(string state, string? statusMessage, CancellationToken cancellationToken = default);

    /// <summary>A /sync with <c>set_presence</c>: marks the user active in that state unless they said otherwise since.</summary>
    Task SyncedAsync(string state, CancellationToken cancellationToken = default);

    /// <summary>
    /// The presence of this user of another server, as their server sent it (an <c>m.presence</c> EDU): taken as
    /// given, with no timeout here (their server sends the change to offline).
    /// </summary>
    Task SetRemotePresenceAsync(string state, string? statusMessage, long lastActiveAgo, bool currentlyActive, CancellationToken cancellationToken = default);
}
