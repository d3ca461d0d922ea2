using System.Globalization;
using System.Text.Json.Nodes;
using Homeserver.ApiHost.Auth;
using Homeserver.ApiHost.ClientApi.Rooms;
using Homeserver.ApiHost.Http;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Push;
using Homeserver.Protocol;
using Homeserver.Storage.Push;
using Homeserver.Storage.Rooms;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Orleans;

namespace Homeserver.ApiHost.ClientApi;

/// <summary>/pushrules (the spec's defaults merged with the user's changes) and /notifications.</summary>
public static class PushRuleEndpoints
{
    public static IEndpointRouteBuilder MapPushRuleApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in ClientApiEndpoints.Versions)
        {
            var prefix = $"/_matrix/client/{version}/pushrules";
            app.MapGet($"{prefix}/", async (HttpContext http, AccessTokenAuthentication auth, PushRuleStore store) =>
                Results.Json(await RulesAsync(http, auth, store)));
            app.MapGet($"{prefix}/global/", async (HttpContext http, AccessTokenAuthentication auth, PushRuleStore store) =>
                Results.Json((await RulesAsync(http, auth, store))["global"]));
            app.MapGet($"{prefix}/{{scope}}/{{kind}}", KindAsync);
            app.MapGet($"{prefix}/{{scope}}/{{kind}}/{{ruleId}}", GetRuleAsync);
            app.MapPut($"{prefix}/{{scope}}/{{kind}}/{{ruleId}}", PutRuleAsync);
            app.MapDelete($"{prefix}/{{scope}}/{{kind}}/{{ruleId}}", DeleteRuleAsync);
            app.MapGet($"{prefix}/{{scope}}/{{kind}}/{{ruleId}}/{{attribute}}", GetAttributeAsync);
            app.MapPut($"{prefix}/{{scope}}/{{kind}}/{{ruleId}}/{{attribute}}", PutAttributeAsync);
            app.MapGet($"/_matrix/client/{version}/notifications", NotificationsAsync);
        }
        return app;
    }

    private static async Task<JsonObject> RulesAsync(HttpContext http, AccessTokenAuthentication auth, PushRuleStore store)
    {
        var user = await auth.RequireUserAsync(http);
        return PushRuleSet.FromChanges(await store.GetChangesAsync(user.UserId)).Compose(user.UserId);
    }

    /// <summary>The rules of one kind, as a list (Synapse answers <c>/pushrules/global/{kind}/</c> so).</summary>
    private static async Task<IResult> KindAsync(HttpContext http, string scope, string kind, AccessTokenAuthentication auth, PushRuleStore store)
    {
        CheckScope(scope, kind);
        return Results.Json((await RulesAsync(http, auth, store))["global"]![kind]);
    }

    /// <summary>A path outside the spec's scope and kinds is a malformed request, 400 <c>M_UNRECOGNIZED</c>, as Synapse answers.</summary>
    private static void CheckScope(string scope, string kind)
    {
        if (scope != "global") throw new MatrixException(400, "M_UNRECOGNIZED", "The only push rule scope is 'global'.");
        if (!PushRuleSet.Kinds.Contains(kind)) throw new MatrixException(400, "M_UNRECOGNIZED", $"'{kind}' is not a push rule kind.");
    }

    private static async Task<IResult> GetRuleAsync(HttpContext http, string scope, string kind, string ruleId, AccessTokenAuthentication auth,
        PushRuleStore store)
    {
        CheckScope(scope, kind);
        return Results.Json(await FindAsync(http, kind, ruleId, auth, store));
    }

    private static async Task<JsonObject> FindAsync(HttpContext http, string kind, string ruleId, AccessTokenAuthentication auth, PushRuleStore store)
    {
        var user = await auth.RequireUserAsync(http);
        try
        {
            return PushRuleSet.FromChanges(await store.GetChangesAsync(user.UserId)).Find(user.UserId, kind, ruleId)
                ?? throw MatrixException.NotFound("No such push rule.");
        }
        catch (PushRuleException e)
        {
            throw MatrixException.NotFound(e.Message);
        }
    }

    private static async Task<IResult> PutRuleAsync(HttpContext http, string scope, string kind, string ruleId, AccessTokenAuthentication auth,
        IGrainFactory grains)
    {
        CheckScope(scope, kind);
        var user = await auth.RequireUserAsync(http);
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var query = http.Request.Query;
        await grains.GetGrain<IPushRulesGrain>(user.UserId).PutRuleAsync(kind, ruleId, body,
            query["before"].ToString() is { Length: > 0 } before ? before : null, query["after"].ToString() is { Length: > 0 } after ? after : null, http.RequestAborted);
        return Results.Json(new JsonObject());
    }

    private static async Task<IResult> DeleteRuleAsync(HttpContext http, string scope, string kind, string ruleId, AccessTokenAuthentication auth,
        IGrainFactory grains)
    {
        CheckScope(scope, kind);
        var user = await auth.RequireUserAsync(http);
        await grains.GetGrain<IPushRulesGrain>(user.UserId).DeleteRuleAsync(kind, ruleId, http.RequestAborted);
        return Results.Json(new JsonObject());
    }

    private static async Task<IResult> GetAttributeAsync(HttpContext http, string scope, string kind, string ruleId, string attribute,
        AccessTokenAuthentication auth, PushRuleStore store)
    {
        CheckScope(scope, kind);
        if (attribute is not ("enabled" or "actions")) throw MatrixException.NotFound("A push rule has 'enabled' and 'actions'.");
        var rule = await FindAsync(http, kind, ruleId, auth, store);
        return Results.Json(new JsonObject { [attribute] = rule[attribute]?.DeepClone() });
    }

    private static async Task<IResult> PutAttributeAsync(HttpContext http, string scope, string kind, string ruleId, string attribute,
        AccessTokenAuthentication auth, IGrainFactory grains)
    {
        CheckScope(scope, kind);
        var user = await auth.RequireUserAsync(http);
        var body = await JsonBody.ReadObjectAsync(http.Request);
        var rules = grains.GetGrain<IPushRulesGrain>(user.UserId);
        switch (attribute)
        {
            case "enabled":
                if (body["enabled"] is not JsonValue v || !v.TryGetValue<bool>(out var enabled)) throw MatrixException.BadJson("'enabled' must be true or false.");
                await rules.SetEnabledAsync(kind, ruleId, enabled);
                break;
            case "actions":
                await rules.SetActionsAsync(kind, ruleId, body["actions"] as JsonArray ?? throw MatrixException.BadJson("'actions' must be a list."));
                break;
            default:
                throw MatrixException.NotFound("A push rule has 'enabled' and 'actions'.");
        }
        return Results.Json(new JsonObject());
    }

    private static async Task<IResult> NotificationsAsync(HttpContext http, AccessTokenAuthentication auth, NotificationStore notifications,
        RoomReader rooms, TimeProvider clock)
    {
        var user = await auth.RequireUserAsync(http);
        var query = http.Request.Query;
        var before = query["from"].ToString() is { Length: > 0 } from
            ? long.TryParse(from, NumberStyles.None, CultureInfo.InvariantCulture, out var f) ? f : throw new MatrixException(400, "M_INVALID_PARAM", "'from' is not a token of this server.")
            : long.MaxValue;
        var limit = RoomTokens.Limit(query["limit"], 20, 100);
        var rows = await notifications.GetNotificationsAsync(user.UserId, before, limit, query["only"].ToString() == "highlight");
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var list = new JsonArray();
        foreach (var row in rows)
        {
            if (await rooms.GetEventAsync(row.EventId) is not { } e) continue;
            var formatted = ClientEvents.Format(e, now);
            list.Add(new JsonObject
            {
                ["actions"] = StoredJson.Parse(row.ActionsJson),
                ["event"] = formatted,
                // No rule here is tied to a profile: null, as Synapse sends it.
                ["profile_tag"] = null,
                ["read"] = row.Read,
                ["room_id"] = row.RoomId,
                ["ts"] = formatted["origin_server_ts"]?.DeepClone(),
            });
        }
        var response = new JsonObject { ["notifications"] = list };
        if (rows.Count == limit) response["next_token"] = rows[^1].StreamOrdering.ToString(CultureInfo.InvariantCulture);
        return Results.Json(response);
    }
}
