using System.Text.Json.Nodes;
using Homeserver.ApiHost.Http;
using Homeserver.ApiHost.ThreePids;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Storage.ThreePids;

namespace Homeserver.ApiHost.Auth;

/// <summary>
/// The <c>m.login.email.identity</c> stage: the auth dict's <c>threepid_creds</c> (<c>sid</c>,
/// <c>client_secret</c>) name an email validation session this server validated. A session proves
/// once: the stage deletes it, as Synapse does, so a leaked sid and secret cannot be replayed.
/// </summary>
public sealed class EmailIdentityStage(ThreePidStore store)
{
    public const string Type = "m.login.email.identity";

    /// <summary>The proven email address; a <see cref="MatrixException"/> (shown in the 401) when the credentials prove none.</summary>
    public async Task<ValidatedThreePid> VerifyAsync(JsonObject auth)
    {
        var creds = auth.OptionalObject("threepid_creds") ?? throw new MatrixException(400, "M_MISSING_PARAM", "Missing threepid_creds.");
        var sid = ThreePidInput.Opaque(creds.RequiredString("sid"), "sid");
        var secret = ThreePidInput.ClientSecret(creds);
        var validated = await store.GetValidatedAsync(sid, secret);
        if (validated is not { Medium: "email" }) throw new MatrixException(401, "M_UNAUTHORIZED", "Unable to get validated threepid.");
        await store.DeleteSessionAsync(sid);
        return validated;
    }
}
