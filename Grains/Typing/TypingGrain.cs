using Homeserver.Grains.Hosting;
using Homeserver.Grains.Interfaces;
using Homeserver.Grains.Interfaces.Streams;
using Homeserver.Grains.Interfaces.Typing;
using Orleans;
using Homeserver.Cluster.Streams;
using Orleans.Runtime;
using Homeserver.Grains.Placement;
using System.Text.Json.Nodes;
using Homeserver.Configuration.Processes;
using Homeserver.Grains.Federation;
using Homeserver.Grains.Interfaces.Federation;

namespace Homeserver.Grains.Typing;

/// <summary>
/// Typing notifications of one room. Positions come from the clock (milliseconds, kept strictly
/// increasing), so they stay monotonic across a restart of the typing writer without any storage.
/// Expiry runs on a grain timer, as a turn of this activation. Each room's typing has its own
/// stream, so an API host hears only about the rooms its users are in.
/// </summary>
[WriterPlacement(StreamNames.Typing)]
public sealed class TypingGrain(ReplicationStreams streams, RoomEduFanOut federation, ProcessSettings settings, TimeProvider clock, GrainsLog log)
    : Grain, ITypingGrain
{
    private const int MaxTimeoutMs = 120_000;
    private static long _lastPosition;
    private readonly Dictionary<string, DateTimeOffset> _typing = new(StringComparer.Ordinal);
    private IDisposable? _expiry;

    public async Task SetTypingAsync(string userId, bool typing, int timeoutMs, CancellationToken cancellationToken)
    {
        var changed = typing
            ? !_typing.ContainsKey(userId)
            : _typing.Remove(userId);
        if (typing) _typing[userId] = clock.GetUtcNow().AddMilliseconds(Math.Clamp(timeoutMs, 0, MaxTimeoutMs));
        _expiry ??= this.RegisterGrainTimer(_ => ExpireAsync(), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        if (changed) await PublishAsync();
        // Other servers time typing out themselves (Synapse: 60 s), so each refresh of ours goes to them too.
        if ((typing || changed) && IsLocal(userId)) await ToOtherServersAsync(userId, typing);
    }

    private bool IsLocal(string userId) => FederationDestinations.IsOurs(userId, settings.ServerName);

    private Task ToOtherServersAsync(string userId, bool typing)
    {
        var roomId = this.GetPrimaryKeyString();
        return federation.SendAsync(roomId, userId, new Edu("m.typing", new JsonObject
        {
            ["room_id"] = roomId,
            ["user_id"] = userId,
            ["typing"] = typing,
        }), CancellationToken.None);
    }

    private async Task ExpireAsync()
    {
        var now = clock.GetUtcNow();
        var expired = _typing.Where(kv => kv.Value <= now).Select(kv => kv.Key).ToList();
        foreach (var user in expired) _typing.Remove(user);
        if (expired.Count > 0) await PublishAsync();
        foreach (var user in expired.Where(IsLocal)) await ToOtherServersAsync(user, typing: false);
        if (_typing.Count == 0)
        {
            _expiry?.Dispose();
            _expiry = null;
        }
    }

    private async Task PublishAsync()
    {
        var position = NextPosition(clock.GetUtcNow().ToUnixTimeMilliseconds());
        try
        {
            await streams.Get<TypingStreamRow>(TypingStreams.PartitionOf(this.GetPrimaryKeyString()))
                .PublishAsync(new TypingStreamRow(this.GetPrimaryKeyString(), _typing.Keys.Order(StringComparer.Ordinal).ToList()),
                    position);
        }
        catch (Exception e)
        {
            log.TypingPublishFailed(e, this.GetPrimaryKeyString());
        }
    }

    private static long NextPosition(long now)
    {
        long last, next;
        do
        {
            last = Interlocked.Read(ref _lastPosition);
            next = Math.Max(last + 1, now);
        }
        while (Interlocked.CompareExchange(ref _lastPosition, next, last) != last);
        return next;
    }
}
