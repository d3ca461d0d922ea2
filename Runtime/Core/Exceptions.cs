namespace Orleans.Runtime;

/// <summary>The silo that owns the grain cannot be reached; the call was not executed there.</summary>
public sealed class SiloUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A remote grain call failed with an exception whose type could not be rebuilt here.</summary>
public sealed class GrainCallException(string remoteType, string message) : Exception(message)
{
    public string RemoteType { get; } = remoteType;
}

/// <summary>The call reached a silo that does not own the grain under its configuration.</summary>
public sealed class MisdirectedGrainCallException(string message) : Exception(message);
