using System.Text.Json.Nodes;
using Homeserver.ApiHost.Auth;
using Homeserver.ApiHost.ClientApi;
using Homeserver.ApiHost.Http;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Storage.ThreePids;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Homeserver.ApiHost.ThreePids;

/// <summary>
/// The account's 3PIDs (administrative_contact.yaml): list, add (behind the password stage) from a
/// session this server validated, delete, and bind or unbind at an identity server.
/// </summary>
public static class ThreePidEndpoints
{
    public static IEndpointRouteBuilder MapThreePidApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in ClientApiEndpoints.Versions)
        {
            var prefix = $"/_matrix/client/{version}/account/3pid";
            app.MapGet(prefix, ListAsync);
            app.MapPost(prefix, AddDeprecatedAsync);
            app.MapPost($"{prefix}/add", AddAsync);
            app.MapPost($"{prefix}/delete", DeleteAsync);
            app.MapPost($"{prefix}/bind", BindAsync);
            app.MapPost($"{prefix}/unbind", UnbindAsync);
        }
        return app;
    }

    private static async Task<IResult> ListAsync(HttpContext http, AccessTokenAuthentication auth, ThreePidStore store)
    {
        var user = await auth.RequireUserAsync(http);
        var threePids = await store.GetUserThreePidsAsync(user.UserId, http.RequestAborted);
        return Results.Json(new JsonObject
        {
            ["threepids"] = new JsonArray(threePids.Select(t => (JsonNode)new JsonObject
            {
                ["medium"] = t.Medium,
                ["address"] = t.Address,
                ["validated_at"] = t.ValidatedAt,
                ["added_at"] = t.AddedAt,
            }).ToArray()),
        });
    }

    /// <summary>
    /// The deprecated POST /account/3pid, answered as Synapse answers it: <c>three_pid_creds</c> name a
    /// session this server validated, which is added without further authentication.
    /// </summary>
    private static async Task<IResult> AddDeprecatedAsync(HttpContext http, AccessTokenAuthentication auth, ThreePidRules rules, ThreePidStore store,
        TimeProvider clock)
    {
        rules.RequireChangesEnabled();
        var user = await auth.RequireUserAsync(http);
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var creds = body.OptionalObject("three_pid_creds") ?? body.OptionalObject("threePidCreds")
            ?? throw new MatrixException(400, "M_MISSING_PARAM", "'three_pid_creds' is missing.");
        var secret = ThreePidInput.ClientSecret(creds);
        var sid = ThreePidInput.Opaque(creds.RequiredString("sid"), "sid");
        await AddValidatedAsync(store, clock, user.UserId, sid, secret, http.RequestAborted);
        return Results.Json(new JsonObject());
    }

    private static async Task<IResult> AddAsync(HttpContext http, AccessTokenAuthentication auth, UserInteractiveAuth uia, ThreePidRules rules,
        ThreePidStore store, TimeProvider clock)
    {
        rules.RequireChangesEnabled();
        var user = await auth.RequireUserAsync(http);
        var body = await JsonBody.ReadObjectAsync(http.Request);
        // Checked before authentication, as Synapse does; the completed session's body is the one acted on.
        _ = ThreePidInput.ClientSecret(body);
        _ = ThreePidInput.Opaque(body.RequiredString("sid"), "sid");
        var completed = await uia.RequireAsync(http, body, UserInteractiveAuth.PasswordStages, user.UserId);
        var secret = ThreePidInput.ClientSecret(completed.Body);
        var sid = ThreePidInput.Opaque(completed.Body.RequiredString("sid"), "sid");
        await AddValidatedAsync(store, clock, user.UserId, sid, secret, http.RequestAborted);
        return Results.Json(new JsonObject());
    }

    private static async Task AddValidatedAsync(ThreePidStore store, TimeProvider clock, string userId, string sid, string secret, CancellationToken cancellationToken)
    {
        var validated = await store.GetValidatedAsync(sid, secret, cancellationToken)
            ?? throw new MatrixException(400, "M_THREEPID_AUTH_FAILED", "No validated 3pid session found.");
        if (!await store.AddUserThreePidAsync(userId, validated, clock.GetUtcNow().ToUnixTimeMilliseconds(), sid, cancellationToken))
        {
            throw new MatrixException(400, "M_THREEPID_IN_USE", "This 3PID is already associated with another account.");
        }
    }

    private static async Task<IResult> DeleteAsync(HttpContext http, AccessTokenAuthentication auth, ThreePidRules rules, ThreePidBindings bindings,
        ThreePidStore store)
    {
        rules.RequireChangesEnabled();
        var user = await auth.RequireUserAsync(http);
        var (medium, address, idServer) = await ReadThreePidAsync(http);
        var unbound = await bindings.TryUnbindAsync(user.UserId, medium, address, idServer, http.RequestAborted);
        await store.DeleteUserThreePidAsync(user.UserId, medium, address, http.RequestAborted);
        return Results.Json(new JsonObject { ["id_server_unbind_result"] = unbound ? "success" : "no-support" });
    }

    private static async Task<IResult> BindAsync(HttpContext http, AccessTokenAuthentication auth, ThreePidBindings bindings)
    {
        var user = await auth.RequireUserAsync(http);
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var secret = ThreePidInput.ClientSecret(body);
        var sid = ThreePidInput.Opaque(body.RequiredString("sid"), "sid");
        var idServer = body.RequiredString("id_server");
        var accessToken = body.RequiredString("id_access_token");
        await bindings.BindAtIdentityServerAsync(user.UserId, idServer, accessToken, sid, secret, http.RequestAborted);
        return Results.Json(new JsonObject());
    }

    private static async Task<IResult> UnbindAsync(HttpContext http, AccessTokenAuthentication auth, ThreePidBindings bindings)
    {
        var user = await auth.RequireUserAsync(http);
        var (medium, address, idServer) = await ReadThreePidAsync(http);
        var unbound = await bindings.TryUnbindAsync(user.UserId, medium, address, idServer, http.RequestAborted);
        return Results.Json(new JsonObject { ["id_server_unbind_result"] = unbound ? "success" : "no-support" });
    }

    private static async Task<(string Medium, string Address, string? IdServer)> ReadThreePidAsync(HttpContext http)
    {
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var medium = ThreePidInput.Medium(body);
        var address = ThreePidInput.Address(medium, body.RequiredString("address"));
        return (medium, address, body.OptionalString("id_server"));
    }
}
