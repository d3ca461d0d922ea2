namespace Homeserver.Configuration;

/// <summary>Synapse's <c>user_directory</c> section: who <c>/user_directory/search</c> may find.</summary>
public sealed record UserDirectoryOptions
{
    /// <summary><c>enabled</c>: false answers every search with no results, as Synapse does.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>
    /// <c>search_all_users</c>: every user the server knows (its own users, and remote users in any of its rooms)
    /// instead of only those who share a room with the searcher or sit in a public room.
    /// </summary>
    public bool SearchAllUsers { get; init; }

    /// <summary><c>prefer_local_users</c>: this server's users rank above remote ones.</summary>
    public bool PreferLocalUsers { get; init; }
}
