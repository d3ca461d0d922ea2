namespace Orleans;

/// <summary>Marker for every grain interface.</summary>
public interface IAddressable;

public interface IGrain : IAddressable;

/// <summary>A grain identified by a string key (room ID, user ID, destination server...).</summary>
public interface IGrainWithStringKey : IGrain;
