using Homeserver.Grains.Placement;

namespace Homeserver.Grains.Federation;

/// <summary>Which federation sender instance this is, of how many (from <c>federation_sender_instances</c>).</summary>
public sealed record FederationSenderInstance(string InstanceName, int Index, int Count, string ServerName)
{
    /// <summary>Destinations are spread over the instances by the hash that also places their sender grains.</summary>
    public bool Sends(string destination) => Count <= 1 || StablePlacement.Pick(destination, Count) == Index;
}

/// <summary>
/// Where an event goes: to every server with a joined member, when one of our users sent it; a leave, kick or
/// ban also to the server of the user it removes, which the room no longer counts as joined once it is stored
/// (Synapse sends to the servers in the room before the event).
/// </summary>
public static class FederationDestinations
{
    public static IReadOnlyList<string> For(string sender, string ourServerName, IEnumerable<string> joinedServers, string? leavingMember = null) =>
        ServerOf(sender) != ourServerName
            ? []
            : joinedServers.Append(leavingMember is null ? ourServerName : ServerOf(leavingMember))
                .Where(s => s != ourServerName && s.Length > 0).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>The server of a user ID: what follows its first colon.</summary>
    public static string ServerOf(string userId) => userId.IndexOf(':') is var colon and >= 0 ? userId[(colon + 1)..] : "";

    /// <summary>Whether the user is one of this server's, whose EDUs this server sends.</summary>
    public static bool IsOurs(string userId, string ourServerName) => ServerOf(userId) == ourServerName;
}
