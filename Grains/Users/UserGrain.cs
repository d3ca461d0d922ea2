using System.Text.Json.Nodes;
using Homeserver.Grains.Hosting;
using Homeserver.Grains.Interfaces;
using Homeserver.Grains.Interfaces.Users;
using Homeserver.Protocol;
using Homeserver.Storage.Streams;
using Homeserver.Storage.Users;
using Orleans;
using Orleans.Streams;

namespace Homeserver.Grains.Users;

/// <summary>Writer of one user's account data; the other per-user streams join it with the sync issue.</summary>
public sealed class UserGrain(AccountDataStore accountData, LocalStreamWriters writers, IStreamProvider streams, GrainsLog log)
    : Grain, IUserGrain
{
    public async Task<long> SetAccountDataAsync(string? roomId, string type, JsonObject content)
    {
        var userId = GetPrimaryKeyString();
        var position = await accountData.SetAsync(userId, roomId, type, CanonicalJson.ToCanonicalString(content),
            writers.Get(StreamNames.AccountData));
        try
        {
            await streams.GetStream<AccountDataStreamRow>(StreamId.Create(StreamNames.AccountData))
                .OnNextAsync(new AccountDataStreamRow(userId, roomId, type), new StreamSequenceToken(position));
        }
        catch (Exception e)
        {
            log.AccountDataPublishFailed(e, userId);
        }
        return position;
    }

    public async Task<JsonObject?> GetAccountDataAsync(string? roomId, string type) =>
        await accountData.GetAsync(GetPrimaryKeyString(), roomId, type) is { } json ? JsonNode.Parse(json)!.AsObject() : null;
}
