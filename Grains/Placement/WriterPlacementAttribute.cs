using Orleans.Metadata;
using Orleans.Placement;
using Orleans.Runtime;

namespace Homeserver.Grains.Placement;

/// <summary>
/// Places a grain class on the silos configured as writers of <see cref="Role"/> (Synapse's
/// <c>stream_writers</c> entry of that name, e.g. "events"): by a stable hash of the key over the
/// writers, and over the live ones while the preferred one is down. Silo-side only: Orleans reads
/// placement from the grain class.
/// </summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class WriterPlacementAttribute(string role) : PlacementAttribute(WriterPlacement.Instance)
{
    /// <summary>The grain property that carries the role; Orleans shares one strategy instance among all grain types.</summary>
    public const string RoleProperty = "homeserver-writer-role";

    /// <summary>The role of outbound federation, placed over <c>federation_sender_instances</c> by destination.</summary>
    public const string FederationSenderRole = "federation_sender";

    /// <summary>The role of the processes that may reach other servers, placed over <c>outbound_federation_restricted_to</c> by destination.</summary>
    public const string OutboundFederationRole = "outbound_federation";

    public string Role { get; } = role;

    public override void Populate(IServiceProvider services, Type grainClass, GrainType grainType, Dictionary<string, string> properties)
    {
        base.Populate(services, grainClass, grainType, properties);
        properties[RoleProperty] = Role;
    }
}

/// <summary>The placement strategy of <see cref="WriterPlacementAttribute"/>; its director lives in the silo.</summary>
[Serializable, GenerateSerializer, Immutable, Alias("WriterPlacement")]
public sealed class WriterPlacement : PlacementStrategy
{
    public static WriterPlacement Instance { get; } = new();
}
