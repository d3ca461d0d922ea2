using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Homeserver.Protocol;
using Microsoft.AspNetCore.Http;

namespace Homeserver.Tests.Integration.Federation;

/// <summary>
/// A remote homeserver's <c>PUT /_matrix/federation/v1/send/{txnId}</c>: records each transaction, how many
/// were in flight at once, and answers with the status <see cref="Status"/> says (200 with an empty
/// <c>pdus</c> map unless <see cref="Answer"/> gives another body).
/// </summary>
public sealed class RemoteTransactions
{
    public const string SendPrefix = "/_matrix/federation/v1/send/";

    private readonly ConcurrentQueue<Transaction> _received = new();
    private int _inFlight;
    private int _maxInFlight;

    public RemoteTransactions(RemoteHomeserver remote, string serverName)
    {
        ServerName = serverName;
        remote.HandlePrefix(serverName, SendPrefix, HandleAsync);
    }

    public string ServerName { get; }

    public volatile int Status = 200;

    public Func<JsonObject, JsonObject>? Answer { get; set; }

    /// <summary>How long each answer takes, so a second transaction sent before the first is answered would be seen.</summary>
    public TimeSpan Delay { get; set; } = TimeSpan.FromMilliseconds(20);

    public sealed record Transaction(string TxnId, JsonObject Body, int Status)
    {
        /// <summary>The PDUs' event IDs, as the remote derives them (rooms here are of the default version, whose PDUs carry none).</summary>
        public IReadOnlyList<string> PduEventIds => Body["pdus"]!.AsArray()
            .Select(p => p!["event_id"]?.GetValue<string>() ?? EventIds.Compute(p.AsObject(), RoomVersions.Default).ToString()).ToList();
    }

    public IReadOnlyList<Transaction> Received => [.. _received];

    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    /// <summary>The event IDs of the PDUs in transactions answered 200, in the order they came.</summary>
    public IReadOnlyList<string> DeliveredEventIds => Received.Where(t => t.Status == 200).SelectMany(t => t.PduEventIds).ToList();

    private async Task HandleAsync(HttpContext http)
    {
        var now = Interlocked.Increment(ref _inFlight);
        InterlockedMax(ref _maxInFlight, now);
        try
        {
            var txnId = Uri.UnescapeDataString(http.Request.Path.Value![SendPrefix.Length..]);
            var body = (await JsonNode.ParseAsync(http.Request.Body))!.AsObject();
            await Task.Delay(Delay);
            var status = Status;
            if (http.Request.Method == "PUT") _received.Enqueue(new Transaction(txnId, body, status));
            http.Response.StatusCode = status;
            var answer = status == 200 ? Answer?.Invoke(body) ?? new JsonObject { ["pdus"] = new JsonObject() } : new JsonObject { ["errcode"] = "M_UNKNOWN" };
            await http.Response.WriteAsJsonAsync(answer);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }
}
