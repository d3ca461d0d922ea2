using System.Text.Json.Nodes;
using Homeserver.ApiHost.Http;
using Homeserver.Protocol;
using Homeserver.Storage.Accounts;

namespace Homeserver.ApiHost.Auth;

/// <summary>The 401 that tells a client which stages to complete, with the session to continue in.</summary>
public sealed class AuthRequiredException(JsonObject body) : Exception("User-interactive authentication required.")
{
    public JsonObject Body { get; } = body;
}

/// <summary>
/// User-interactive authentication (spec: "User-interactive API"), with sessions in PostgreSQL so
/// a client may continue on any API host. Registration offers <c>m.login.dummy</c>.
/// </summary>
public sealed class UserInteractiveAuth(AuthSessionStore sessions, TimeProvider clock)
{
    private static readonly TimeSpan SessionLifetime = TimeSpan.FromMinutes(30);

    /// <summary>Returns the completed session ID, or throws the 401 that starts or continues one.</summary>
    public async Task<string> RequireAsync(JsonObject body, IReadOnlyList<string> stages, Func<JsonObject, Task<bool>>? checkPassword = null)
    {
        var auth = body.OptionalObject("auth");
        var requested = auth?.OptionalString("session");
        var now = clock.GetUtcNow();
        IReadOnlyList<string> completed;
        string session;
        if (requested is null)
        {
            session = RandomText.Letters(24);
            await sessions.CreateSessionAsync(session, now.ToUnixTimeMilliseconds());
            completed = [];
            if (auth is null) throw Challenge(session, completed, stages, null, null, continued: false);
        }
        else
        {
            session = requested;
            completed = await sessions.GetCompletedAsync(session, (now - SessionLifetime).ToUnixTimeMilliseconds())
                ?? throw Challenge(null, [], stages, "M_UNKNOWN", "Unknown or expired session.");
        }

        var type = auth!.OptionalString("type");
        if (type is not null)
        {
            if (!stages.Contains(type)) throw Challenge(session, completed, stages, "M_UNRECOGNIZED", $"Unsupported authentication type {type}.");
            // m.login.dummy is complete by being sent; m.login.password when the password is right.
            if (type == "m.login.password" && (checkPassword is null || !await checkPassword(auth!)))
            {
                throw Challenge(session, completed, stages, "M_FORBIDDEN", "Invalid password.");
            }
            await sessions.MarkCompletedAsync(session, type);
            completed = [.. completed, type];
        }
        if (stages.All(completed.Contains)) return session;
        throw Challenge(session, completed, stages, null, null);
    }

    public Task FinishAsync(string sessionId) => sessions.DeleteSessionAsync(sessionId);

    private static AuthRequiredException Challenge(string? session, IReadOnlyList<string> completed, IReadOnlyList<string> stages,
        string? errCode, string? error, bool continued = true)
    {
        var body = new JsonObject
        {
            ["flows"] = new JsonArray(new JsonObject { ["stages"] = new JsonArray(stages.Select(s => (JsonNode)JsonValue.Create(s)!).ToArray()) }),
            ["params"] = new JsonObject(),
        };
        if (session is not null) body["session"] = session;
        // A session in progress always says what it completed (Synapse does, and clients read it), even nothing yet.
        if (completed.Count > 0 || (session is not null && continued)) body["completed"] = new JsonArray(completed.Select(s => (JsonNode)JsonValue.Create(s)!).ToArray());
        if (errCode is not null)
        {
            body["errcode"] = errCode;
            body["error"] = error;
        }
        return new AuthRequiredException(body);
    }
}
