namespace Orleans.Concurrency
{
    /// <summary>Calls to this grain may interleave freely (no turn-based exclusion).</summary>
    [AttributeUsage(AttributeTargets.Class | AttributeTargets.Interface)]
    public sealed class ReentrantAttribute : Attribute;

    /// <summary>The method does not change grain state: it may interleave with other read-only calls.</summary>
    [AttributeUsage(AttributeTargets.Method)]
    public sealed class ReadOnlyAttribute : Attribute;

    /// <summary>The method may interleave with any call, including exclusive ones.</summary>
    [AttributeUsage(AttributeTargets.Method)]
    public sealed class AlwaysInterleaveAttribute : Attribute;

    /// <summary>Activations are local to the caller and not unique in the cluster.</summary>
    [AttributeUsage(AttributeTargets.Class | AttributeTargets.Interface)]
    public sealed class StatelessWorkerAttribute : Attribute;

    /// <summary>The value is never mutated after it is sent, so local calls pass it by reference.</summary>
    [AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct | AttributeTargets.Parameter)]
    public sealed class ImmutableAttribute : Attribute;
}

namespace Orleans
{
    /// <summary>Orleans' serializer marker; here messages travel as System.Text.Json, so it only documents intent.</summary>
    [AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct)]
    public sealed class GenerateSerializerAttribute : Attribute;

    [AttributeUsage(AttributeTargets.Property | AttributeTargets.Field | AttributeTargets.Parameter)]
    public sealed class IdAttribute(uint id) : Attribute
    {
        public uint Id { get; } = id;
    }
}

namespace Orleans.Placement
{
    /// <summary>
    /// Places activations of this grain interface by a stable hash of the key over the instances
    /// configured as writers of <see cref="Role"/> (Synapse's <c>stream_writers</c>, e.g. "events").
    /// </summary>
    [AttributeUsage(AttributeTargets.Interface)]
    public sealed class WriterPlacementAttribute(string role) : Attribute
    {
        public string Role { get; } = role;
    }
}
