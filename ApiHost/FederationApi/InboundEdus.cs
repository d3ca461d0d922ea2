using System.Text.Json.Nodes;
using Homeserver.Grains.Interfaces.Typing;
using Homeserver.Protocol;
using Homeserver.Storage.Rooms;
using Orleans;

namespace Homeserver.ApiHost.FederationApi;

/// <summary>
/// The EDUs of a received transaction (server-server-api "EDUs"). An EDU gets no answer, so one that is
/// malformed, speaks for a user of another server, or concerns a room its user is not joined to is dropped
/// without a word, as in Synapse. So far <c>m.typing</c> is taken; the other types are dropped.
/// </summary>
public sealed class InboundEdus(RoomReader rooms, IGrainFactory grains)
{
    /// <summary>How long a remote user shows as typing without a refresh (Synapse's federation typing timeout).</summary>
    public const int RemoteTypingTimeoutMs = 60_000;

    public async Task HandleAsync(string origin, JsonArray edus, CancellationToken cancellationToken)
    {
        foreach (var node in edus)
        {
            if (node is not JsonObject edu || edu["content"] is not JsonObject content) continue;
            switch (Text(edu["edu_type"]))
            {
                case "m.typing":
                    await TypingAsync(origin, content, cancellationToken);
                    break;
            }
        }
    }

    private async Task TypingAsync(string origin, JsonObject content, CancellationToken cancellationToken)
    {
        if (Text(content["room_id"]) is not { } roomId || !RoomId.TryParse(roomId, out _)) return;
        if (Text(content["user_id"]) is not { } userId || !UserId.TryParse(userId, out var user) || user.Server.ToString() != origin) return;
        if (content["typing"] is not JsonValue value || !value.TryGetValue<bool>(out var typing)) return;
        if (await rooms.GetMembershipAsync(roomId, userId) != "join") return;
        await grains.GetGrain<ITypingGrain>(roomId).SetTypingAsync(userId, typing, RemoteTypingTimeoutMs, cancellationToken);
    }

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
}
