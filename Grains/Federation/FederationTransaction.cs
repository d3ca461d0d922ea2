using System.Text.Json.Nodes;
using Homeserver.Grains.Interfaces.Federation;
using Homeserver.Protocol;
using Homeserver.Storage.Federation;

namespace Homeserver.Grains.Federation;

/// <summary>The body of <c>PUT /_matrix/federation/v1/send/{txnId}</c> (server-server API, "Transactions").</summary>
public static class FederationTransaction
{
    public const int MaxPdus = 50;
    public const int MaxEdus = 100;

    /// <summary>A transaction ID never used before by this server, whatever restarts happened in between.</summary>
    public static string NewId(long nowMs) => $"{nowMs}-{Guid.NewGuid():N}";

    public static string Path(string txnId) => $"/_matrix/federation/v1/send/{Uri.EscapeDataString(txnId)}";

    public static JsonObject Body(string origin, long nowMs, IReadOnlyList<StoredPdu> pdus, IReadOnlyList<Edu> edus)
    {
        var pduArray = new JsonArray();
        foreach (var pdu in pdus) pduArray.Add(StoredJson.Parse(pdu.Json));
        var eduArray = new JsonArray();
        foreach (var edu in edus) eduArray.Add(new JsonObject { ["edu_type"] = edu.EduType, ["content"] = edu.Content.DeepClone() });
        return new JsonObject { ["origin"] = origin, ["origin_server_ts"] = nowMs, ["pdus"] = pduArray, ["edus"] = eduArray };
    }

    /// <summary>A stored device-list update as its EDU: the content with its stream_id and, when there was one before it, prev_id.</summary>
    public static Edu DeviceListUpdate(PendingDeviceListUpdate update)
    {
        var content = StoredJson.Parse(update.ContentJson)!.AsObject();
        content["stream_id"] = update.StreamId;
        content["prev_id"] = update.PrevId is { } prev ? new JsonArray(prev) : new JsonArray();
        return new Edu("m.device_list_update", content);
    }

    /// <summary>The PDUs the destination answered with an error (the answer's <c>pdus</c> map), with the error.</summary>
    public static IEnumerable<(string EventId, string Error)> PduErrors(JsonNode? answer)
    {
        if (answer?["pdus"] is not JsonObject results) yield break;
        foreach (var (eventId, result) in results)
        {
            if (result?["error"] is { } error) yield return (eventId, error.ToString());
        }
    }
}
