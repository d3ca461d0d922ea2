using Homeserver.ApiHost.Admin;
using Homeserver.ApiHost.Auth;
using Homeserver.ApiHost.ClientApi.Accounts;
using Homeserver.ApiHost.ClientApi.EndToEnd;
using Homeserver.ApiHost.ClientApi.Rooms;
using Homeserver.ApiHost.ClientApi.Sync;
using Homeserver.ApiHost.Errors;
using Homeserver.ApiHost.RateLimiting;
using Homeserver.ApiHost.ThreePids;
using Homeserver.Configuration.Processes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Homeserver.ApiHost.ClientApi;

public static class ClientApiEndpoints
{
    /// <summary>Path versions served for each endpoint: the stable v3 and the legacy r0 that older clients use.</summary>
    public static readonly string[] Versions = ["v3", "r0"];

    public static IServiceCollection AddClientApi(this IServiceCollection services)
    {
        services.AddSingleton<RateLimiter>();
        services.AddSingleton<AccessTokenCache>();
        services.AddHostedService(sp => sp.GetRequiredService<AccessTokenCache>());
        services.AddSingleton<AccessTokenAuthentication>();
        services.AddSingleton<UserInteractiveAuth>();
        services.AddSingleton<UserIdResolver>();
        services.AddSingleton<PasswordStage>();
        services.AddSingleton<RoomAliases>();
        services.AddSingleton<RestrictedJoins>();
        services.AddSingleton<Federation.RemoteServerQueries>();
        services.AddSingleton<Federation.RemoteMemberships>();
        services.AddSingleton<Federation.RemoteBackfill>();
        services.AddSingleton<Federation.RemoteKeys>();
        services.AddSingleton<HistoryVisibility>();
        services.AddSingleton<OwnTransactionIds>();
        services.AddSingleton<RoomSnapshots>();
        services.AddSingleton<SyncNotifier>();
        services.AddHostedService(sp => sp.GetRequiredService<SyncNotifier>());
        services.AddSingleton<TypingCache>();
        services.AddSingleton<DeviceListChanges>();
        services.AddSingleton<IgnoredUsers>();
        services.AddSingleton<SyncResponseBuilder>();
        services.AddSingleton<ToDeviceAcknowledgements>();
        services.AddSingleton<UnreadCountMemo>();
        services.AddSingleton<LazyLoadedMembers>();
        services.AddSingleton<PresenceOnSync>();
        services.AddSingleton(sp => new PasswordHasher(sp.GetRequiredService<ProcessSettings>().BcryptRounds));
        services.AddThreePids();
        return services;
    }

    /// <summary>The client-server API, with Matrix errors for everything it does not serve.</summary>
    public static WebApplication MapClientApi(this WebApplication app)
    {
        app.MapVersionsApi();
        app.MapServerInfoApi();
        app.MapRegisterApi();
        app.MapLoginApi();
        app.MapProfileApi();
        app.MapDeviceApi();
        app.MapAccountDataApi();
        app.MapSharedSecretRegistration();
        app.MapCreateRoomApi();
        app.MapMembershipApi();
        app.MapEventApi();
        app.MapRoomReadApi();
        app.MapDirectoryApi();
        app.MapRelationApi();
        app.MapSyncApi();
        app.MapLegacySyncApi();
        app.MapRoomUpgradeApi();
        app.MapOpenIdApi();
        app.MapPushRuleApi();
        app.MapKeyApi();
        app.MapReceiptApi();
        app.MapPresenceApi();
        app.MapUserDirectoryApi();
        app.MapPusherApi();
        app.MapToDeviceApi();
        app.MapKeyBackupApi();
        app.MapReportApi();
        app.MapEmailValidationApi();
        app.MapThreePidApi();
        var unrecognized = new UnrecognizedRequests(app.Services.GetRequiredService<Microsoft.AspNetCore.Routing.EndpointDataSource>());
        app.MapFallback("/_matrix/{**path}", unrecognized.Answer);
        app.MapFallback("/_synapse/{**path}", unrecognized.Answer);
        return app;
    }
}
