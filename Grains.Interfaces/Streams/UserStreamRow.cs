using Orleans;

namespace Homeserver.Grains.Interfaces.Streams;

/// <summary>
/// A row of a per-user stream (to_device, device_lists, receipts, presence, push_rules): whose data
/// changed at the row's position. Readers fetch the data itself from PostgreSQL up to their safe position.
/// </summary>
[GenerateSerializer, Immutable, Alias("UserStreamRow")]
public sealed record UserStreamRow([property: Id(0)] string UserId);
