using System.Text.Json.Nodes;
using Homeserver.Grains.Hosting;
using Homeserver.Grains.Interfaces;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Users;
using Homeserver.Protocol;
using Homeserver.Storage.Accounts;
using Homeserver.Storage.Streams;
using Homeserver.Storage.Users;
using Orleans;
using Orleans.Streams;

namespace Homeserver.Grains.Users;

/// <summary>Writer of one user's account, devices, sessions and account data.</summary>
public sealed class UserGrain(
    AccountStore accounts,
    AccountDataStore accountData,
    LocalStreamWriters writers,
    IStreamProvider streams,
    TimeProvider clock,
    GrainsLog log) : Grain, IUserGrain
{
    private string UserId => GetPrimaryKeyString();

    public async Task<Registration> RegisterAsync(RegisterCommand command)
    {
        var deviceId = command.IssueSession ? command.DeviceId ?? NewDeviceId() : null;
        var token = command.IssueSession ? NewAccessToken() : null;
        var created = await accounts.CreateUserAsync(UserId, command.PasswordHash, command.IsAdmin,
            command.DisplayName ?? UserIds.Localpart(UserId), deviceId, command.DeviceDisplayName, token, Now());
        if (!created) throw new MatrixException(400, "M_USER_IN_USE", "User ID already taken.");
        return new Registration(UserId, deviceId, token);
    }

    public async Task<Session> StartSessionAsync(StartSessionCommand command)
    {
        var deviceId = command.DeviceId ?? NewDeviceId();
        var token = NewAccessToken();
        await accounts.AddSessionAsync(UserId, deviceId, command.DeviceDisplayName, token, Now());
        return new Session(UserId, deviceId, token);
    }

    public Task LogoutAsync(IReadOnlyList<string>? deviceIds) => accounts.DeleteDevicesAsync(UserId, deviceIds);

    public async Task<long> SetAccountDataAsync(string? roomId, string type, JsonObject content)
    {
        var position = await accountData.SetAsync(UserId, roomId, type, CanonicalJson.ToCanonicalString(content),
            writers.Get(StreamNames.AccountData));
        try
        {
            await streams.GetStream<AccountDataStreamRow>(StreamId.Create(StreamNames.AccountData))
                .OnNextAsync(new AccountDataStreamRow(UserId, roomId, type), new StreamSequenceToken(position));
        }
        catch (Exception e)
        {
            log.AccountDataPublishFailed(e, UserId);
        }
        return position;
    }

    public async Task<JsonObject?> GetAccountDataAsync(string? roomId, string type) =>
        await accountData.GetAsync(UserId, roomId, type) is { } json ? JsonNode.Parse(json)!.AsObject() : null;

    private long Now() => clock.GetUtcNow().ToUnixTimeMilliseconds();

    private static string NewDeviceId() => RandomText.Letters(10).ToUpperInvariant();

    private string NewAccessToken() =>
        $"syt_{UnpaddedBase64.EncodeUrlSafe(System.Text.Encoding.UTF8.GetBytes(UserIds.Localpart(UserId)))}_{RandomText.UrlSafe(32)}";
}

internal static class UserIds
{
    public static string Localpart(string userId) => UserId.TryParse(userId, out var id) ? id.Localpart : userId.TrimStart('@').Split(':')[0];
}
