using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Protocol;
using Homeserver.Configuration.Processes;

namespace Homeserver.ApiHost.Auth;

/// <summary>Turns what a client typed (<c>alice</c> or <c>@alice:server</c>) into a local user ID.</summary>
public sealed class UserIdResolver(ProcessSettings settings)
{
    /// <summary>A user ID on this server for a new account, validated against the grammar for new IDs.</summary>
    public string NewLocalUser(string localpart)
    {
        if (!UserId.IsValidNewLocalpart(localpart))
        {
            throw InvalidUsername("User ID can only contain characters a-z, 0-9, or '=_-./+'.");
        }
        var userId = $"@{localpart}:{settings.ServerName}";
        if (System.Text.Encoding.UTF8.GetByteCount(userId) > 255) throw InvalidUsername("User ID is too long.");
        return userId;
    }

    /// <summary>The user a login names, or null when it is not a user of this server.</summary>
    public string? ExistingLocalUser(string text)
    {
        if (text.StartsWith('@'))
        {
            return UserId.TryParse(text, out var id) && id.Server.ToString() == settings.ServerName ? id.ToString() : null;
        }
        return UserId.TryParse($"@{text.ToLowerInvariant()}:{settings.ServerName}", out var local) ? local.ToString() : null;
    }

    private static MatrixException InvalidUsername(string why) => new(400, "M_INVALID_USERNAME", why);
}
