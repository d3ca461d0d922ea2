using Homeserver.Storage.Accounts;
using Homeserver.Storage.Caches;
using Homeserver.Storage.Directory;
using Homeserver.Storage.EndToEnd;
using Homeserver.Storage.Keys;
using Homeserver.Storage.Migrations;
using Homeserver.Storage.Presence;
using Homeserver.Storage.Push;
using Homeserver.Storage.Receipts;
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
    /// <summary>PostgreSQL storage; <paramref name="streamWriters"/> (stream -> instances, from <c>stream_writers</c>) says whose positions count.</summary>
    public static IServiceCollection AddHomeserverStorage(this IServiceCollection services, string connectionString,
        IReadOnlyDictionary<string, IReadOnlyList<string>>? streamWriters = null)
    {
        services.AddSingleton(_ => new NpgsqlDataSourceBuilder(connectionString).Build());
        services.AddSingleton<StorageLog>();
        services.AddSingleton<MigrationRunner>();
        services.AddSingleton(_ => StreamPositionsPool.For(connectionString));
        services.AddSingleton<LocalStreamWriters>();
        services.AddSingleton(sp => new StreamPositionReader(sp.GetRequiredService<NpgsqlDataSource>(), streamWriters));
        services.AddSingleton<RoomEventStore>();
        services.AddSingleton<EventReader>();
        services.AddSingleton<RoomReader>();
        services.AddSingleton<DirectoryStore>();
        services.AddSingleton<UserDirectoryStore>();
        services.AddSingleton<SyncReader>();
        services.AddSingleton<SigningKeyStore>();
        services.AddSingleton<AccountDataStore>();
        services.AddSingleton<AccountStore>();
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
        services.AddHostedService<StreamPositionPersister>();
        return services;
    }
}
