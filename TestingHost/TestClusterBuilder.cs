namespace Orleans.TestingHost;

public sealed class TestClusterBuilder
{
    public TestClusterOptions Options { get; } = new();

    public TestClusterBuilder() { }

    public TestClusterBuilder(int initialSilosCount) => Options.InitialSilosCount = initialSilosCount;

    public TestCluster Build() => new(Options);
}
