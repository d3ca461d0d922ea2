using Homeserver.Storage.Accounts;
using Homeserver.Storage.Caches;
using Homeserver.Storage.Directory;
using Homeserver.Storage.EndToEnd;
using Homeserver.Storage.Federation;
using Homeserver.Storage.Keys;
using Homeserver.Storage.Migrations;
using Homeserver.Storage.Presence;
using Homeserver.Storage.Push;
using Homeserver.Storage.Receipts;
using Homeserver.Storage.Reports;
using Homeserver.Storage.ThreePids;
using Homeserver.Storage.Retention;
using Homeserver.Storage.Rooms;
using Homeserver.Storage.Streams;
using Homeserver.Storage.Sync;
using Homeserver.Storage.Users;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Homeserver.Storage;

public static class StorageServiceCollectionExtensions
{
    /// <summary>
    /// PostgreSQL storage; <paramref name="streamWriters"/> (stream -> instances, from <c>stream_writers</c>) says whose
    /// positions count. Where a <see cref="StorageSessionName"/> is registered, every session carries it, so a survivor
    /// can end a dead or frozen silo's sessions (<see cref="DeadWriterFence"/>).
    /// </summary>
    public static IServiceCollection AddHomeserverStorage(this IServiceCollection services, string connectionString,
        IReadOnlyDictionary<string, IReadOnlyList<string>>? streamWriters = null)
    {
        services.AddSingleton(sp => new NpgsqlDataSourceBuilder(Named(connectionString, sp)).Build());
        services.AddSingleton<StorageLog>();
        services.AddSingleton<MigrationRunner>();
        services.AddSingleton(sp => StreamPositionsPool.For(Named(connectionString, sp)));
        services.AddSingleton<LocalStreamWriters>();
        services.AddSingleton(sp => new StreamPositionReader(sp.GetRequiredService<NpgsqlDataSource>(), streamWriters));
        services.AddSingleton<RoomEventStore>();
        services.AddSingleton<EventReader>();
        services.AddSingleton<RoomReader>();
        services.AddSingleton<RoomDagStore>();
        services.AddSingleton<DirectoryStore>();
        services.AddSingleton<ContentReportStore>();
        services.AddSingleton<UserDirectoryStore>();
        services.AddSingleton<SyncReader>();
        services.AddSingleton<SigningKeyStore>();
        services.AddSingleton<RemoteServerKeyStore>();
        services.AddSingleton<ReceivedTransactionStore>();
        services.AddSingleton<DestinationStore>();
        services.AddSingleton<FederationOutboxStore>();
        services.AddSingleton<RemoteDeviceListStore>();
        services.AddSingleton<OutboundEventStore>();
        services.AddSingleton<AccountDataStore>();
        services.AddSingleton<AccountStore>();
        services.AddSingleton<OpenIdTokenStore>();
        services.AddSingleton<ThreePidStore>();
        services.AddSingleton<AuthSessionStore>();
        services.AddSingleton<CacheInvalidationStore>();
        services.AddSingleton<EndToEndKeyStore>();
        services.AddSingleton<ToDeviceStore>();
        services.AddSingleton<KeyBackupStore>();
        services.AddSingleton<ReceiptStore>();
        services.AddSingleton<PresenceStore>();
        services.AddSingleton<PushRuleStore>();
        services.AddSingleton<NotificationStore>();
        services.AddSingleton<PusherStore>();
        services.AddSingleton<RetentionStore>();
        services.AddSingleton<DeadWriterFence>();
        services.AddHostedService<StreamPositionPersister>();
        return services;
    }

    private static string Named(string connectionString, IServiceProvider services) =>
        services.GetService<StorageSessionName>() is { } name
            ? new NpgsqlConnectionStringBuilder(connectionString) { ApplicationName = name.Value }.ConnectionString
            : connectionString;
}

/// <summary>The <c>application_name</c> of this process's PostgreSQL sessions.</summary>
public sealed record StorageSessionName(string Value)
{
    /// <summary>A silo's sessions name its incarnation, so fencing a dead one never ends its restarted successor's.</summary>
    public static StorageSessionName For(string instanceName, int? generation = null) =>
        new(generation is { } g ? $"homeserver:{instanceName}:{g}" : $"homeserver:{instanceName}");
}
