using Orleans;

namespace Homeserver.Grains.Interfaces.Caches;

/// <summary>A row of the <c>caches</c> stream: API hosts drop what they cached under this cache and key.</summary>
[GenerateSerializer, Immutable, Alias("CacheInvalidationRow")]
public sealed record CacheInvalidationRow([property: Id(0)] string CacheName, [property: Id(1)] string Key)
{
    /// <summary>Access tokens, keyed by user ID: every cached token of that user goes.</summary>
    public const string AccessTokens = "access_tokens";
}
