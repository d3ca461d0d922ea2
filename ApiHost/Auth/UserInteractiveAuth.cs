using System.Text.Json.Nodes;
using Homeserver.ApiHost.Http;
using Homeserver.Configuration.Processes;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Protocol;
using Homeserver.Storage.Accounts;
using Microsoft.AspNetCore.Http;

namespace Homeserver.ApiHost.Auth;

/// <summary>The 401 that tells a client which stages to complete, with the session to continue in.</summary>
public sealed class AuthRequiredException(JsonObject body) : Exception("User-interactive authentication required.")
{
    public JsonObject Body { get; } = body;
}

/// <summary>
/// What a completed session authorises: the request body to act on (the one that started the session
/// when the client resent only <c>auth</c>), and what earlier requests of the session already did.
/// </summary>
public sealed record CompletedAuth(string SessionId, JsonObject Body, string? RegisteredUser, string? PasswordHash, SessionThreePid? ThreePid);

/// <summary>
/// User-interactive authentication (spec: "User-interactive API"), with sessions in PostgreSQL so
/// a client may continue on any API host. A session belongs to the operation and body that started
/// it; a completed one may be resubmitted and gets the operation's result again, as the spec asks.
/// Registration offers <c>m.login.dummy</c> (and <c>m.login.email.identity</c> when email is configured);
/// operations of a signed-in user <c>m.login.password</c>; a password reset <c>m.login.email.identity</c>.
/// </summary>
public sealed class UserInteractiveAuth(AuthSessionStore sessions, PasswordStage passwords, EmailIdentityStage emails, PasswordHasher hasher,
    TimeProvider clock)
{
    public static readonly string[] DummyStages = ["m.login.dummy"];
    public static readonly string[] PasswordStages = ["m.login.password"];
    public static readonly IReadOnlyList<IReadOnlyList<string>> EmailFlows = [[EmailIdentityStage.Type]];

    /// <summary>
    /// Synapse's registration flows: dummy alone without email; with email also an email-only flow; only
    /// that one when <c>registrations_require_3pid</c> names email.
    /// </summary>
    public static IReadOnlyList<IReadOnlyList<string>> RegistrationFlows(ProcessSettings settings) =>
        settings.Email is null ? [DummyStages]
        : settings.ThreePids.RegistrationsRequire.Contains("email") ? EmailFlows
        : [DummyStages, [EmailIdentityStage.Type]];

    private static readonly TimeSpan SessionLifetime = TimeSpan.FromMinutes(30);

    /// <summary>
    /// Returns the completed session, or throws the 401 that starts or continues one. With a
    /// <paramref name="requester"/>, the password stage must prove that user (another user's right
    /// password is 403, as Synapse answers). The body's <paramref name="passwordField"/>, if named, is
    /// kept only as a hash, returned as <see cref="CompletedAuth.PasswordHash"/>.
    /// </summary>
    public Task<CompletedAuth> RequireAsync(HttpContext http, JsonObject body, IReadOnlyList<string> stages, string? requester = null,
        string? passwordField = null) =>
        RequireAsync(http, body, [stages], requester, passwordField);

    /// <summary>As above, with several flows: the session completes when every stage of one of them is done.</summary>
    public async Task<CompletedAuth> RequireAsync(HttpContext http, JsonObject body, IReadOnlyList<IReadOnlyList<string>> flows, string? requester = null,
        string? passwordField = null)
    {
        var auth = body.OptionalObject("auth");
        var requested = auth?.OptionalString("session");
        var operation = OperationOf(http.Request);
        var password = passwordField is null ? null : body.OptionalString(passwordField);
        var requestBody = WithoutAuth(body, passwordField);
        var requestText = Comparable(requestBody);
        var now = clock.GetUtcNow();
        var notBefore = (now - SessionLifetime).ToUnixTimeMilliseconds();
        IReadOnlyList<string> completed;
        string session;
        string? proven = null, registered = null, passwordHash = null;
        SessionThreePid? threePid = null;
        if (requested is null)
        {
            session = RandomText.Letters(24);
            await sessions.CreateSessionAsync(session, now.ToUnixTimeMilliseconds(), notBefore, operation, requestText);
            if (password is not null)
            {
                passwordHash = hasher.Hash(password);
                await sessions.SetPasswordHashAsync(session, passwordHash);
            }
            completed = [];
            if (auth is null) throw Challenge(session, completed, flows, null, null, continued: false);
        }
        else
        {
            session = requested;
            var stored = await sessions.GetSessionAsync(session, notBefore)
                ?? throw Challenge(null, [], flows, "M_UNKNOWN", "Unknown or expired session.");
            if (stored.Operation != operation)
            {
                throw MatrixException.Forbidden("Requested operation has changed during the UI authentication session.");
            }
            requestBody = Merge(stored.RequestBody, requestBody);
            var mergedText = Comparable(requestBody);
            if (mergedText != stored.RequestBody) await sessions.UpdateRequestBodyAsync(session, mergedText);
            passwordHash = stored.PasswordHash;
            if (password is not null && passwordHash is null)
            {
                passwordHash = hasher.Hash(password);
                await sessions.SetPasswordHashAsync(session, passwordHash);
            }
            else if (password is not null && !hasher.Verify(password, passwordHash))
            {
                throw MatrixException.Forbidden("The request body has changed during the UI authentication session.");
            }
            completed = stored.Completed;
            proven = stored.AuthenticatedUser;
            registered = stored.RegisteredUser;
            threePid = stored.ThreePid;
        }

        var type = auth!.OptionalString("type");
        if (type is not null && !completed.Contains(type))
        {
            if (!flows.Any(f => f.Contains(type))) throw Challenge(session, completed, flows, "M_UNRECOGNIZED", $"Unsupported authentication type {type}.");
            // m.login.dummy is complete by being sent; m.login.password when the password is right; the email stage by a validated session.
            if (type == "m.login.password")
            {
                proven = await passwords.VerifyAsync(auth!, requester)
                    ?? throw Challenge(session, completed, flows, "M_FORBIDDEN", "Invalid password.");
            }
            else if (type == EmailIdentityStage.Type)
            {
                SessionThreePid proof;
                try
                {
                    var validated = await emails.VerifyAsync(auth!);
                    proof = new SessionThreePid(validated.Medium, validated.Address);
                }
                catch (MatrixException e)
                {
                    // As Synapse: a stage's failure is told in the 401, and the session goes on.
                    throw Challenge(session, completed, flows, e.ErrCode, e.Error);
                }
                threePid = proof;
                await sessions.SetThreePidAsync(session, threePid.Medium, threePid.Address);
            }
            await sessions.MarkCompletedAsync(session, type, proven);
            completed = [.. completed, type];
        }
        if (!flows.Any(f => f.All(completed.Contains))) throw Challenge(session, completed, flows, null, null);
        if (requester is not null && proven != requester) throw MatrixException.Forbidden("Invalid auth: the password given is not this user's.");
        return new CompletedAuth(session, requestBody, registered, passwordHash, threePid);
    }

    /// <summary>Remembers the user a registration created, so that resubmitting the session logs into it.</summary>
    public Task RecordRegistrationAsync(CompletedAuth completed, string userId) => sessions.SetRegisteredUserAsync(completed.SessionId, userId);

    /// <summary>The method and the path below <c>/_matrix/client/{version}/</c>, so r0 and v3 are one operation.</summary>
    private static string OperationOf(HttpRequest request)
    {
        var path = request.Path.Value ?? "";
        const string prefix = "/_matrix/client/";
        if (path.StartsWith(prefix, StringComparison.Ordinal))
        {
            var slash = path.IndexOf('/', prefix.Length);
            if (slash > 0) path = path[(slash + 1)..];
        }
        return $"{request.Method} {path}";
    }

    /// <summary>The registered user of the session this body continues, if any, read before the username is checked.</summary>
    public async Task<string?> RegisteredUserOfAsync(JsonObject body)
    {
        if (body.OptionalObject("auth")?.OptionalString("session") is not { } session) return null;
        var notBefore = (clock.GetUtcNow() - SessionLifetime).ToUnixTimeMilliseconds();
        return (await sessions.GetSessionAsync(session, notBefore))?.RegisteredUser;
    }

    /// <summary>
    /// The session's body with what this request adds. A field the session has must come again unchanged
    /// or not at all (a client may resend only <c>auth</c>); new fields join it, as clients add the device
    /// name or <c>inhibit_login</c> on the request that completes.
    /// </summary>
    private static JsonObject Merge(string storedText, JsonObject request)
    {
        var stored = (JsonNode.Parse(storedText) as JsonObject)!;
        foreach (var (key, value) in request)
        {
            if (stored.ContainsKey(key))
            {
                if (!JsonNode.DeepEquals(stored[key], value))
                {
                    throw MatrixException.Forbidden($"'{key}' has changed during the UI authentication session.");
                }
                continue;
            }
            stored[key] = value?.DeepClone();
        }
        return stored;
    }

    private static JsonObject WithoutAuth(JsonObject body, string? passwordField)
    {
        var copy = new JsonObject();
        foreach (var (key, value) in body)
        {
            if (key != "auth" && key != passwordField) copy[key] = value?.DeepClone();
        }
        return copy;
    }

    private static string Comparable(JsonObject body)
    {
        try
        {
            return CanonicalJson.ToCanonicalString(body);
        }
        catch (CanonicalJsonException)
        {
            // A body with a non-integer number: still one fixed text per body.
            return body.ToJsonString();
        }
    }

    private static AuthRequiredException Challenge(string? session, IReadOnlyList<string> completed, IReadOnlyList<IReadOnlyList<string>> flows,
        string? errCode, string? error, bool continued = true)
    {
        var body = new JsonObject
        {
            ["flows"] = new JsonArray(flows.Select(stages =>
                (JsonNode)new JsonObject { ["stages"] = new JsonArray(stages.Select(s => (JsonNode)JsonValue.Create(s)!).ToArray()) }).ToArray()),
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
