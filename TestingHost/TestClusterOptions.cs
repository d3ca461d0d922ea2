namespace Orleans.TestingHost;

public sealed class TestClusterOptions
{
    public int InitialSilosCount { get; set; } = 2;
    public int ApiHostCount { get; set; } = 1;
    public string ServerName { get; set; } = "test.local";
    public string ReplicationSecret { get; set; } = "test-replication-secret";

    /// <summary>Admin connection string of the PostgreSQL server to create the cluster's fresh database on.</summary>
    public string? PostgresAdminConnectionString { get; set; } = Environment.GetEnvironmentVariable("HS_TEST_POSTGRES");

    /// <summary>Redis for stream replication between the in-process "processes"; null shares one in-process transport.</summary>
    public string? RedisConfiguration { get; set; } = Environment.GetEnvironmentVariable("HS_TEST_REDIS");

    public TimeSpan GrainResponseTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public bool EnableRegistration { get; set; } = true;
    public string? PublicBaseUrl { get; set; } = "https://matrix.test.local";
    public string? RegistrationSharedSecret { get; set; } = "test-shared-secret";

    /// <summary>Tests register many users from one address; the defaults would throttle them.</summary>
    public Homeserver.Configuration.RateLimitOptions RateLimits { get; set; } = Unlimited;

    public static readonly Homeserver.Configuration.RateLimitOptions Unlimited = new(
        new(1000, 10000), new(1000, 10000), new(1000, 10000), new(1000, 10000), new(1000, 10000),
        new(1000, 10000), new(1000, 10000), new(1000, 10000), new(1000, 10000));
}
