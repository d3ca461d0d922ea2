namespace Orleans;

public interface IGrainFactory
{
    TGrainInterface GetGrain<TGrainInterface>(string primaryKey)
        where TGrainInterface : IGrainWithStringKey;
}

/// <summary>What an API host holds to call grains, wherever they live.</summary>
public interface IClusterClient : IGrainFactory;
