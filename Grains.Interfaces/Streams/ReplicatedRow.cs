using Orleans;

namespace Homeserver.Grains.Interfaces.Streams;

/// <summary>
/// A stream row as it travels on an Orleans stream: the row and its position in PostgreSQL's stream
/// ordering, which subscribers use to order, deduplicate and catch up (Orleans' own sequence tokens
/// come from the queue, not from the record).
/// </summary>
[GenerateSerializer, Immutable, Alias("ReplicatedRow`1")]
public sealed record ReplicatedRow<T>([property: Id(0)] long Position, [property: Id(1)] T Row);
