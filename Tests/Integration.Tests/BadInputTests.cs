using System.Text.Json.Nodes;

namespace Homeserver.Tests.Integration;

/// <summary>
/// Bad requests, each with the status and errcode the spec asks for, and proof that none of them
/// wrote anything: the rows (count and contents) of every table a request could touch are the same afterwards.
/// </summary>
public sealed class BadInputTests(TwoSiloClusterFixture fixture) : IClassFixture<TwoSiloClusterFixture>, IAsyncLifetime
{
    private static readonly string[] Tables = ["users", "devices", "access_tokens", "events", "current_state_events", "rooms", "room_writers",
        "event_txn_ids", "profiles", "room_aliases", "room_directory", "user_filters", "push_rules", "one_time_keys", "fallback_keys",
        "account_data", "pushers", "content_reports", "receipts", "to_device_messages", "device_keys", "cross_signing_keys", "key_signatures",
        "uia_sessions", "openid_tokens", "user_threepids", "erased_users", "forgotten_rooms", "redactions", "event_relations", "room_key_backup_versions",
        "room_key_backup_keys", "device_list_changes", "state_groups", "room_dag_events"];
    private MatrixClient _admin = null!;
    private MatrixClient _member = null!;
    private string _roomId = "";

    public async Task InitializeAsync()
    {
        _admin = new MatrixClient(fixture.Cluster.ApiHosts[0].BaseAddress);
        _member = new MatrixClient(fixture.Cluster.ApiHosts[0].BaseAddress);
        await _admin.RegisterAsync("admin" + Guid.NewGuid().ToString("N")[..8], "pw");
        await _member.RegisterAsync("member" + Guid.NewGuid().ToString("N")[..8], "pw");
        _roomId = (await _admin.PostAsync("/_matrix/client/v3/createRoom", new JsonObject { ["preset"] = "public_chat" })).Body["room_id"]!.GetValue<string>();
        await _member.PostAsync($"/_matrix/client/v3/rooms/{_roomId}/join", new JsonObject());
    }

    public Task DisposeAsync()
    {
        _admin.Dispose();
        _member.Dispose();
        return Task.CompletedTask;
    }

    public static TheoryData<string, string, string, string?, string, int, string> Cases => new()
    {
        // name, who (admin|member|none|bad), method, body, path ({room} is replaced), status, errcode
        { "malformed JSON", "admin", "POST", "{not json", "/_matrix/client/v3/createRoom", 400, "M_NOT_JSON" },
        { "JSON that is not an object", "admin", "POST", "[1, 2]", "/_matrix/client/v3/createRoom", 400, "M_BAD_JSON" },
        { "wrong type", "admin", "POST", """{"visibility": 5}""", "/_matrix/client/v3/createRoom", 400, "M_BAD_JSON" },
        { "unknown visibility", "admin", "POST", """{"visibility": "secret"}""", "/_matrix/client/v3/createRoom", 400, "M_INVALID_PARAM" },
        { "unknown room version", "admin", "POST", """{"room_version": "99"}""", "/_matrix/client/v3/createRoom", 400, "M_UNSUPPORTED_ROOM_VERSION" },
        { "invalid user ID in invite", "admin", "POST", """{"invite": ["bob"]}""", "/_matrix/client/v3/createRoom", 400, "M_INVALID_PARAM" },
        { "override that locks the creator out", "admin", "POST", """{"power_level_content_override": {"state_default": 200}}""", "/_matrix/client/v3/createRoom", 403, "M_FORBIDDEN" },
        { "float in power level override", "admin", "POST", """{"power_level_content_override": {"ban": 50.5}}""", "/_matrix/client/v3/createRoom", 400, "M_BAD_JSON" },
        { "initial_state sets power levels", "admin", "POST", """{"initial_state": [{"type": "m.room.power_levels", "content": {}}]}""", "/_matrix/client/v3/createRoom", 400, "M_INVALID_PARAM" },
        { "missing token", "none", "POST", "{}", "/_matrix/client/v3/createRoom", 401, "M_MISSING_TOKEN" },
        { "unknown token", "bad", "POST", "{}", "/_matrix/client/v3/createRoom", 401, "M_UNKNOWN_TOKEN" },
        { "unknown room", "admin", "PUT", """{"body": "x"}""", "/_matrix/client/v3/rooms/!nowhere:test.local/send/m.room.message/t1", 404, "M_NOT_FOUND" },
        { "invalid room ID", "admin", "PUT", """{"body": "x"}""", "/_matrix/client/v3/rooms/nowhere/send/m.room.message/t2", 400, "M_INVALID_PARAM" },
        { "forbidden state change", "member", "PUT", """{"users": {}}""", "/_matrix/client/v3/rooms/{room}/state/m.room.power_levels", 403, "M_FORBIDDEN" },
        { "forbidden kick", "member", "POST", """{"user_id": "@nobody:test.local"}""", "/_matrix/client/v3/rooms/{room}/ban", 403, "M_FORBIDDEN" },
        { "oversize event", "admin", "PUT", "{\"body\": \"" + new string('x', 70_000) + "\"}", "/_matrix/client/v3/rooms/{room}/send/m.room.message/t3", 413, "M_TOO_LARGE" },
        { "invalid user ID to invite", "admin", "POST", """{"user_id": "bob"}""", "/_matrix/client/v3/rooms/{room}/invite", 400, "M_INVALID_PARAM" },
        { "missing user ID to invite", "admin", "POST", "{}", "/_matrix/client/v3/rooms/{room}/invite", 400, "M_MISSING_PARAM" },
        { "float in event content", "admin", "PUT", """{"body": "x", "n": 1.5}""", "/_matrix/client/v3/rooms/{room}/send/m.room.message/t5", 400, "M_BAD_JSON" },
        { "send body not an object", "admin", "PUT", "\"text\"", "/_matrix/client/v3/rooms/{room}/send/m.room.message/t4", 400, "M_BAD_JSON" },
        { "bad pagination direction", "admin", "GET", null, "/_matrix/client/v3/rooms/{room}/messages?dir=x", 400, "M_INVALID_PARAM" },
        { "bad pagination token", "admin", "GET", null, "/_matrix/client/v3/rooms/{room}/messages?from=abc", 400, "M_INVALID_PARAM" },
        { "unknown endpoint", "admin", "GET", null, "/_matrix/client/v3/no/such/thing", 404, "M_UNRECOGNIZED" },
        { "wrong method", "admin", "DELETE", null, "/_matrix/client/v3/createRoom", 405, "M_UNRECOGNIZED" },
        { "login without identifier", "none", "POST", """{"type": "m.login.password", "password": "x"}""", "/_matrix/client/v3/login", 400, "M_MISSING_PARAM" },
        { "unknown login type", "none", "POST", """{"type": "m.login.magic"}""", "/_matrix/client/v3/login", 400, "M_UNKNOWN" },
        { "password of the wrong type", "none", "POST", """{"username": "newbie", "password": 5}""", "/_matrix/client/v3/register", 400, "M_BAD_JSON" },
        { "invalid username", "none", "POST", """{"username": "Bad Name", "password": "x"}""", "/_matrix/client/v3/register", 400, "M_INVALID_USERNAME" },
        { "guest registration", "none", "POST", "{}", "/_matrix/client/v3/register?kind=guest", 403, "M_GUEST_ACCESS_FORBIDDEN" },
        // Power levels every reader can use (the room's version is 10: integers only).
        { "power levels with users not an object", "admin", "PUT", """{"users": "x"}""", "/_matrix/client/v3/rooms/{room}/state/m.room.power_levels", 400, "M_BAD_JSON" },
        { "power levels with events a list", "admin", "PUT", """{"events": []}""", "/_matrix/client/v3/rooms/{room}/state/m.room.power_levels", 400, "M_BAD_JSON" },
        { "power levels with notifications a string", "admin", "PUT", """{"notifications": "x"}""", "/_matrix/client/v3/rooms/{room}/state/m.room.power_levels", 400, "M_BAD_JSON" },
        { "power level as a string in v10", "admin", "PUT", """{"ban": "50"}""", "/_matrix/client/v3/rooms/{room}/state/m.room.power_levels", 400, "M_BAD_JSON" },
        { "power level null", "admin", "PUT", """{"kick": null}""", "/_matrix/client/v3/rooms/{room}/state/m.room.power_levels", 400, "M_BAD_JSON" },
        { "user power level a list", "admin", "PUT", """{"users": {"@a:test.local": [100]}}""", "/_matrix/client/v3/rooms/{room}/state/m.room.power_levels", 400, "M_BAD_JSON" },
        { "override with users not an object", "admin", "POST", """{"power_level_content_override": {"users": "x"}}""", "/_matrix/client/v3/createRoom", 400, "M_BAD_JSON" },
        // Filters are checked before they are stored, and inline ones before they are used.
        { "filter room not an object", "admin", "POST", """{"room": "x"}""", "/_matrix/client/v3/user/{me}/filter", 400, "M_BAD_JSON" },
        { "filter limit a string", "admin", "POST", """{"room": {"timeline": {"limit": "ten"}}}""", "/_matrix/client/v3/user/{me}/filter", 400, "M_BAD_JSON" },
        { "filter limit negative", "admin", "POST", """{"presence": {"limit": -1}}""", "/_matrix/client/v3/user/{me}/filter", 400, "M_BAD_JSON" },
        { "filter senders not user IDs", "admin", "POST", """{"presence": {"senders": ["bob"]}}""", "/_matrix/client/v3/user/{me}/filter", 400, "M_BAD_JSON" },
        { "filter rooms not room IDs", "admin", "POST", """{"room": {"rooms": ["lobby"]}}""", "/_matrix/client/v3/user/{me}/filter", 400, "M_BAD_JSON" },
        { "filter types not strings", "admin", "POST", """{"room": {"state": {"types": [1]}}}""", "/_matrix/client/v3/user/{me}/filter", 400, "M_BAD_JSON" },
        { "filter event_format unknown", "admin", "POST", """{"event_format": "xml"}""", "/_matrix/client/v3/user/{me}/filter", 400, "M_BAD_JSON" },
        { "filter event_fields not strings", "admin", "POST", """{"event_fields": [1]}""", "/_matrix/client/v3/user/{me}/filter", 400, "M_BAD_JSON" },
        { "filter include_leave a string", "admin", "POST", """{"room": {"include_leave": "yes"}}""", "/_matrix/client/v3/user/{me}/filter", 400, "M_BAD_JSON" },
        { "filter lazy_load_members a number", "admin", "POST", """{"room": {"state": {"lazy_load_members": 1}}}""", "/_matrix/client/v3/user/{me}/filter", 400, "M_BAD_JSON" },
        { "inline sync filter malformed", "admin", "GET", null, "/_matrix/client/v3/sync?filter=%7B%22room%22%3A5%7D", 400, "M_BAD_JSON" },
        { "messages filter malformed", "admin", "GET", null, "/_matrix/client/v3/rooms/{room}/messages?dir=b&filter=%7B%22limit%22%3A%22x%22%7D", 400, "M_BAD_JSON" },
        { "empty pagination direction", "admin", "GET", null, "/_matrix/client/v3/rooms/{room}/messages?dir=", 400, "M_INVALID_PARAM" },
        // Push rules the evaluator can read.
        { "push rule conditions a string", "admin", "PUT", """{"actions": ["notify"], "conditions": "x"}""", "/_matrix/client/v3/pushrules/global/override/r1", 400, "M_INVALID_PARAM" },
        { "push rule condition kind a number", "admin", "PUT", """{"actions": ["notify"], "conditions": [{"kind": 5}]}""", "/_matrix/client/v3/pushrules/global/override/r2", 400, "M_INVALID_PARAM" },
        { "push rule event_match without pattern", "admin", "PUT", """{"actions": ["notify"], "conditions": [{"kind": "event_match", "key": "type"}]}""", "/_matrix/client/v3/pushrules/global/underride/r3", 400, "M_INVALID_PARAM" },
        { "push rule unknown action", "admin", "PUT", """{"actions": ["explode"]}""", "/_matrix/client/v3/pushrules/global/room/!r4:test.local", 400, "M_INVALID_PARAM" },
        { "push rule actions a string", "admin", "PUT", """{"actions": "notify"}""", "/_matrix/client/v3/pushrules/global/room/!r5:test.local", 400, "M_INVALID_PARAM" },
        { "push rule in an unknown scope", "admin", "PUT", """{"actions": ["notify"]}""", "/_matrix/client/v3/pushrules/device/override/r6", 400, "M_UNRECOGNIZED" },
        { "push rule of an unknown kind", "admin", "PUT", """{"actions": ["notify"]}""", "/_matrix/client/v3/pushrules/global/bogus/r7", 400, "M_UNRECOGNIZED" },
        { "push rules of an unknown kind", "admin", "GET", null, "/_matrix/client/v3/pushrules/global/bogus/", 400, "M_UNRECOGNIZED" },
        { "push rule attribute of an unknown kind", "admin", "PUT", """{"enabled": true}""", "/_matrix/client/v3/pushrules/global/bogus/r8/enabled", 400, "M_UNRECOGNIZED" },
        { "push rule that does not exist", "admin", "GET", null, "/_matrix/client/v3/pushrules/global/override/no-such-rule", 404, "M_NOT_FOUND" },
        { "push rule deleted that does not exist", "admin", "DELETE", null, "/_matrix/client/v3/pushrules/global/override/no-such-rule", 404, "M_NOT_FOUND" },
        { "push rule tweak not named", "admin", "PUT", """{"actions": [{"set_tweak": 5}]}""", "/_matrix/client/v3/pushrules/global/sender/@r6:test.local", 400, "M_INVALID_PARAM" },
        { "push rule highlight not boolean", "admin", "PUT", """{"actions": [{"set_tweak": "highlight", "value": "yes"}]}""", "/_matrix/client/v3/pushrules/global/sender/@r7:test.local", 400, "M_INVALID_PARAM" },
        { "push rule placed before a missing rule", "admin", "PUT", """{"actions": ["notify"]}""", "/_matrix/client/v3/pushrules/global/room/!r8:test.local?before=nope", 400, "M_INVALID_PARAM" },
        { "push rule actions attribute unknown", "admin", "PUT", """{"actions": ["explode"]}""", "/_matrix/client/v3/pushrules/global/override/.m.rule.master/actions", 400, "M_INVALID_PARAM" },
        // End-to-end keys of the spec's shapes.
        { "one-time key an integer", "admin", "POST", """{"one_time_keys": {"signed_curve25519:AAAA": 5}}""", "/_matrix/client/v3/keys/upload", 400, "M_BAD_JSON" },
        { "one-time key object without key", "admin", "POST", """{"one_time_keys": {"signed_curve25519:AAAB": {"signatures": {}}}}""", "/_matrix/client/v3/keys/upload", 400, "M_BAD_JSON" },
        { "fallback key a list", "admin", "POST", """{"fallback_keys": {"signed_curve25519:AAAC": []}}""", "/_matrix/client/v3/keys/upload", 400, "M_BAD_JSON" },
        // Login and registration fields of the wrong type.
        { "login refresh_token a string", "none", "POST", """{"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "x"}, "password": "x", "refresh_token": "yes"}""", "/_matrix/client/v3/login", 400, "M_BAD_JSON" },
        // Wrong types and invalid identifiers across the other write endpoints.
        { "typing a string", "admin", "PUT", """{"typing": "yes"}""", "/_matrix/client/v3/rooms/{room}/typing/{me}", 400, "M_BAD_JSON" },
        { "typing timeout a string", "admin", "PUT", """{"typing": true, "timeout": "long"}""", "/_matrix/client/v3/rooms/{room}/typing/{me}", 400, "M_BAD_JSON" },
        { "typing for another user", "admin", "PUT", """{"typing": true}""", "/_matrix/client/v3/rooms/{room}/typing/@other:test.local", 403, "M_FORBIDDEN" },
        { "receipt of an unknown type", "admin", "POST", "{}", "/_matrix/client/v3/rooms/{room}/receipt/m.bogus/$nothing", 400, "M_INVALID_PARAM" },
        { "receipt thread_id a number", "admin", "POST", """{"thread_id": 5}""", "/_matrix/client/v3/rooms/{room}/receipt/m.read/$nothing", 400, "M_BAD_JSON" },
        { "read markers fully_read a number", "admin", "POST", """{"m.fully_read": 5}""", "/_matrix/client/v3/rooms/{room}/read_markers", 400, "M_BAD_JSON" },
        { "presence unknown", "admin", "PUT", """{"presence": "asleep"}""", "/_matrix/client/v3/presence/{me}/status", 400, "M_INVALID_PARAM" },
        { "presence missing", "admin", "PUT", "{}", "/_matrix/client/v3/presence/{me}/status", 400, "M_MISSING_PARAM" },
        { "presence status_msg a number", "admin", "PUT", """{"presence": "online", "status_msg": 5}""", "/_matrix/client/v3/presence/{me}/status", 400, "M_BAD_JSON" },
        { "presence of another user", "admin", "PUT", """{"presence": "online"}""", "/_matrix/client/v3/presence/@other:test.local/status", 403, "M_FORBIDDEN" },
        { "displayname a number", "admin", "PUT", """{"displayname": 5}""", "/_matrix/client/v3/profile/{me}/displayname", 400, "M_BAD_JSON" },
        { "avatar_url a list", "admin", "PUT", """{"avatar_url": []}""", "/_matrix/client/v3/profile/{me}/avatar_url", 400, "M_BAD_JSON" },
        { "displayname of another user", "admin", "PUT", """{"displayname": "x"}""", "/_matrix/client/v3/profile/@other:test.local/displayname", 403, "M_FORBIDDEN" },
        { "account data of another user", "admin", "PUT", "{}", "/_matrix/client/v3/user/@other:test.local/account_data/m.x", 403, "M_FORBIDDEN" },
        { "account data not an object", "admin", "PUT", "[1]", "/_matrix/client/v3/user/{me}/account_data/m.x", 400, "M_BAD_JSON" },
        { "room account data in an invalid room", "admin", "PUT", "{}", "/_matrix/client/v3/user/{me}/rooms/nowhere/account_data/m.x", 400, "M_INVALID_PARAM" },
        { "fully_read set as account data", "admin", "PUT", """{"event_id": "$x"}""", "/_matrix/client/v3/user/{me}/rooms/{room}/account_data/m.fully_read", 405, "M_BAD_JSON" },
        { "to-device messages not an object", "admin", "PUT", """{"messages": []}""", "/_matrix/client/v3/sendToDevice/m.x/tx1", 400, "M_BAD_JSON" },
        { "to-device messages missing", "admin", "PUT", "{}", "/_matrix/client/v3/sendToDevice/m.x/tx2", 400, "M_MISSING_PARAM" },
        { "pusher kind a number", "admin", "POST", """{"kind": 5, "app_id": "a", "pushkey": "k"}""", "/_matrix/client/v3/pushers/set", 400, "M_BAD_JSON" },
        { "pusher without app_id", "admin", "POST", """{"kind": "http", "pushkey": "k"}""", "/_matrix/client/v3/pushers/set", 400, "M_MISSING_PARAM" },
        { "pusher of an unsupported kind", "admin", "POST", """{"kind": "email", "app_id": "a", "pushkey": "k", "app_display_name": "a", "device_display_name": "d", "lang": "en", "data": {}}""", "/_matrix/client/v3/pushers/set", 400, "M_INVALID_PARAM" },
        { "pusher url elsewhere", "admin", "POST", """{"kind": "http", "app_id": "a", "pushkey": "k", "app_display_name": "a", "device_display_name": "d", "lang": "en", "data": {"url": "http://127.0.0.1/x"}}""", "/_matrix/client/v3/pushers/set", 400, "M_INVALID_PARAM" },
        { "alias room_id missing", "admin", "PUT", "{}", "/_matrix/client/v3/directory/room/%23a1:test.local", 400, "M_MISSING_PARAM" },
        { "alias of another server", "admin", "PUT", """{"room_id": "{room}"}""", "/_matrix/client/v3/directory/room/%23a2:elsewhere.example", 400, "M_INVALID_PARAM" },
        { "alias without a sigil", "admin", "PUT", """{"room_id": "{room}"}""", "/_matrix/client/v3/directory/room/a3", 400, "M_INVALID_PARAM" },
        { "alias deleted that does not exist", "admin", "DELETE", null, "/_matrix/client/v3/directory/room/%23nothing-here:test.local", 404, "M_NOT_FOUND" },
        { "directory visibility unknown", "admin", "PUT", """{"visibility": "hidden"}""", "/_matrix/client/v3/directory/list/room/{room}", 400, "M_INVALID_PARAM" },
        { "join reason a number", "admin", "POST", """{"reason": 5}""", "/_matrix/client/v3/rooms/{room}/join", 400, "M_BAD_JSON" },
        { "leave reason a list", "member", "POST", """{"reason": []}""", "/_matrix/client/v3/rooms/{room}/leave", 400, "M_BAD_JSON" },
        { "kick without user_id", "admin", "POST", "{}", "/_matrix/client/v3/rooms/{room}/kick", 400, "M_MISSING_PARAM" },
        { "kick of a non-member", "admin", "POST", """{"user_id": "@nobody:test.local"}""", "/_matrix/client/v3/rooms/{room}/kick", 403, "M_FORBIDDEN" },
        { "ban user_id a number", "admin", "POST", """{"user_id": 5}""", "/_matrix/client/v3/rooms/{room}/ban", 400, "M_BAD_JSON" },
        { "unban of an invalid user", "admin", "POST", """{"user_id": "nobody"}""", "/_matrix/client/v3/rooms/{room}/unban", 400, "M_INVALID_PARAM" },
        { "join of an invalid room", "admin", "POST", "{}", "/_matrix/client/v3/join/nowhere", 400, "M_INVALID_PARAM" },
        { "join of an unknown alias", "admin", "POST", "{}", "/_matrix/client/v3/join/%23nowhere:test.local", 404, "M_NOT_FOUND" },
        { "redaction reason a number", "admin", "PUT", """{"reason": 5}""", "/_matrix/client/v3/rooms/{room}/redact/$nothing/rd1", 400, "M_BAD_JSON" },
        { "redaction of an invalid event ID", "admin", "PUT", "{}", "/_matrix/client/v3/rooms/{room}/redact/nothing/rd2", 400, "M_INVALID_PARAM" },
        { "state event of type create", "admin", "PUT", "{}", "/_matrix/client/v3/rooms/{room}/state/m.room.create", 403, "M_FORBIDDEN" },
        { "member state for an invalid user", "admin", "PUT", """{"membership": "join"}""", "/_matrix/client/v3/rooms/{room}/state/m.room.member/nobody", 403, "M_FORBIDDEN" },
        { "tag order out of range", "admin", "PUT", """{"order": 2}""", "/_matrix/client/v3/user/{me}/rooms/{room}/tags/u.home", 400, "M_BAD_JSON" },
        { "typing timeout negative", "admin", "PUT", """{"typing": true, "timeout": -5}""", "/_matrix/client/v3/rooms/{room}/typing/{me}", 400, "M_BAD_JSON" },
        { "canonical alias not an alias", "admin", "PUT", """{"alias": "lobby"}""", "/_matrix/client/v3/rooms/{room}/state/m.room.canonical_alias", 400, "M_INVALID_PARAM" },
        { "canonical alias elsewhere", "admin", "PUT", """{"alias": "#nowhere:test.local"}""", "/_matrix/client/v3/rooms/{room}/state/m.room.canonical_alias", 400, "M_BAD_ALIAS" },
        { "user directory term missing", "admin", "POST", "{}", "/_matrix/client/v3/user_directory/search", 400, "M_MISSING_PARAM" },
        { "user directory limit a string", "admin", "POST", """{"search_term": "a", "limit": "many"}""", "/_matrix/client/v3/user_directory/search", 400, "M_INVALID_PARAM" },
        { "keys query device_keys a list", "admin", "POST", """{"device_keys": []}""", "/_matrix/client/v3/keys/query", 400, "M_BAD_JSON" },
        { "keys claim one_time_keys missing", "admin", "POST", "{}", "/_matrix/client/v3/keys/claim", 400, "M_MISSING_PARAM" },
        { "device rename display_name a number", "admin", "PUT", """{"display_name": 5}""", "/_matrix/client/v3/devices/{device}", 400, "M_BAD_JSON" },
        { "device renamed that does not exist", "admin", "PUT", """{"display_name": "x"}""", "/_matrix/client/v3/devices/NOSUCHDEVICE", 404, "M_NOT_FOUND" },
        { "delete_devices devices a string", "admin", "POST", """{"devices": "all"}""", "/_matrix/client/v3/delete_devices", 400, "M_BAD_JSON" },
        { "password change new_password a number", "admin", "POST", """{"new_password": 5}""", "/_matrix/client/v3/account/password", 400, "M_BAD_JSON" },
        { "password change logout_devices a string", "admin", "POST", """{"new_password": "x", "logout_devices": "no"}""", "/_matrix/client/v3/account/password", 400, "M_BAD_JSON" },
        { "tag order a string", "admin", "PUT", """{"order": "first"}""", "/_matrix/client/v3/user/{me}/rooms/{room}/tags/u.work", 400, "M_BAD_JSON" },
        { "report reason a number", "member", "POST", """{"reason": 5}""", "/_matrix/client/v3/rooms/{room}/report", 400, "M_BAD_JSON" },
        { "report of an event not in the room", "member", "POST", """{"reason": "x"}""", "/_matrix/client/v3/rooms/{room}/report/$nothing", 404, "M_NOT_FOUND" },
        { "create room name a number", "admin", "POST", """{"name": 5}""", "/_matrix/client/v3/createRoom", 400, "M_BAD_JSON" },
        { "create room preset unknown", "admin", "POST", """{"preset": "party"}""", "/_matrix/client/v3/createRoom", 400, "M_INVALID_PARAM" },
        { "create room invite not a list", "admin", "POST", """{"invite": "@a:test.local"}""", "/_matrix/client/v3/createRoom", 400, "M_BAD_JSON" },
        { "create room initial_state not a list", "admin", "POST", """{"initial_state": {}}""", "/_matrix/client/v3/createRoom", 400, "M_BAD_JSON" },
        { "create room alias taken by shape", "admin", "POST", """{"room_alias_name": "bad:alias"}""", "/_matrix/client/v3/createRoom", 400, "M_INVALID_PARAM" },
        { "messages limit a word", "admin", "GET", null, "/_matrix/client/v3/rooms/{room}/messages?limit=many", 400, "M_INVALID_PARAM" },
        { "context of an invalid event", "admin", "GET", null, "/_matrix/client/v3/rooms/{room}/context/nothing", 404, "M_NOT_FOUND" },
        { "sync timeout a word", "admin", "GET", null, "/_matrix/client/v3/sync?timeout=soon", 400, "M_INVALID_PARAM" },
        { "sync since malformed", "admin", "GET", null, "/_matrix/client/v3/sync?since=garbage", 400, "M_INVALID_PARAM" },
        { "sync set_presence unknown", "admin", "GET", null, "/_matrix/client/v3/sync?set_presence=asleep", 400, "M_INVALID_PARAM" },
        { "filter that does not exist", "admin", "GET", null, "/_matrix/client/v3/user/{me}/filter/999999", 404, "M_NOT_FOUND" },
        { "filter of another user", "admin", "GET", null, "/_matrix/client/v3/user/@other:test.local/filter/1", 403, "M_FORBIDDEN" },
        { "members membership unknown", "admin", "GET", null, "/_matrix/client/v3/rooms/{room}/members?membership=party", 400, "M_INVALID_PARAM" },
        { "state format unknown", "admin", "GET", null, "/_matrix/client/v3/rooms/{room}/state/m.room.create/?format=xml", 400, "M_INVALID_PARAM" },
        { "notifications from malformed", "admin", "GET", null, "/_matrix/client/v3/notifications?from=abc", 400, "M_INVALID_PARAM" },
        { "keys changes without to", "admin", "GET", null, "/_matrix/client/v3/keys/changes?from=s1", 400, "M_MISSING_PARAM" },
        { "relations of an unknown event", "admin", "GET", null, "/_matrix/client/v1/rooms/{room}/relations/$nothing", 404, "M_NOT_FOUND" },
        { "threads include unknown", "admin", "GET", null, "/_matrix/client/v1/rooms/{room}/threads?include=some", 400, "M_INVALID_PARAM" },
        { "register available without username", "none", "GET", null, "/_matrix/client/v3/register/available", 400, "M_MISSING_PARAM" },
        { "login identifier of an unknown type", "none", "POST", """{"type": "m.login.password", "identifier": {"type": "m.id.phone"}, "password": "x"}""", "/_matrix/client/v3/login", 400, "M_UNKNOWN" },
        { "login password a number", "none", "POST", """{"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "x"}, "password": 5}""", "/_matrix/client/v3/login", 400, "M_BAD_JSON" },
        { "login of an unknown user", "none", "POST", """{"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "nobody-at-all"}, "password": "x"}""", "/_matrix/client/v3/login", 403, "M_FORBIDDEN" },
        { "register username a number", "none", "POST", """{"username": 5, "password": "x"}""", "/_matrix/client/v3/register", 400, "M_BAD_JSON" },
        { "register with an unknown session", "none", "POST", """{"username": "newbie3", "password": "x", "auth": {"type": "m.login.dummy", "session": "nope"}}""", "/_matrix/client/v3/register", 401, "M_UNKNOWN" },
        { "shared-secret register without a nonce", "none", "POST", """{"username": "x", "password": "x", "mac": "00"}""", "/_synapse/admin/v1/register", 400, "M_MISSING_PARAM" },
        { "register inhibit_login a string", "none", "POST", """{"username": "newbie2", "password": "x", "inhibit_login": "yes", "auth": {"type": "m.login.dummy"}}""", "/_matrix/client/v3/register", 400, "M_BAD_JSON" },
    };

    /// <summary>
    /// A NUL in a path parameter (PostgreSQL's text cannot hold one) is refused by Kestrel itself, before any
    /// handler runs: a 400 with a Matrix error body, nothing written, no request reaching the database.
    /// </summary>
    [Theory]
    [InlineData("PUT", "/_matrix/client/v3/rooms/{room}/state/m.x%00y/")]
    [InlineData("PUT", "/_matrix/client/v3/rooms/{room}/state/m.x/a%00b")]
    [InlineData("PUT", "/_matrix/client/v3/rooms/{room}/send/m.x%00y/t1")]
    [InlineData("PUT", "/_matrix/client/v3/rooms/{room}/send/m.x/t%001")]
    [InlineData("PUT", "/_matrix/client/v3/user/{me}/account_data/m.x%00y")]
    [InlineData("PUT", "/_matrix/client/v3/user/{me}/rooms/{room}/tags/a%00b")]
    [InlineData("PUT", "/_matrix/client/v3/sendToDevice/m.x%00y/t1")]
    [InlineData("PUT", "/_matrix/client/v3/directory/room/%23a%00b:test.local")]
    [InlineData("PUT", "/_matrix/client/v3/devices/a%00b")]
    [InlineData("GET", "/_matrix/client/v3/user/{me}/filter/1%002")]
    public async Task A_NUL_in_a_path_parameter_is_refused_before_any_handler_and_writes_nothing(string method, string path)
    {
        var before = await CountRowsAsync();
        var (status, body) = await _admin.SendAsync(new HttpMethod(method), path.Replace("{room}", _roomId).Replace("{me}", Uri.EscapeDataString(_admin.UserId)),
            method == "GET" ? null : "{}");
        (status, body["errcode"]?.GetValue<string>()).Should().Be((400, "M_UNKNOWN"), body.ToJsonString());
        (await CountRowsAsync()).Should().Equal(before);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Bad_requests_get_their_errcode_and_change_nothing(string name, string who, string method, string? body, string path,
        int status, string errCode)
    {
        using var anonymous = new MatrixClient(fixture.Cluster.ApiHosts[0].BaseAddress) { AccessToken = who == "bad" ? "syt_bogus" : null };
        var client = who switch { "admin" => _admin, "member" => _member, _ => anonymous };
        var before = await CountRowsAsync();

        var (actualStatus, response) = await client.SendAsync(new HttpMethod(method), path.Replace("{room}", _roomId).Replace("{me}", Uri.EscapeDataString(_admin.UserId))
            .Replace("{device}", _admin.DeviceId), body);

        (actualStatus, response["errcode"]?.GetValue<string>()).Should().Be((status, errCode), name);
        response["error"]?.GetValue<string>().Should().NotBeNullOrEmpty();
        (await CountRowsAsync()).Should().Equal(before, $"{name} must not write anything");
    }

    [Fact]
    public async Task The_valid_counterparts_are_accepted_and_the_room_is_not_locked()
    {
        // Before version 10 a level may be a string holding an integer.
        var v9 = (await _admin.PostAsync("/_matrix/client/v3/createRoom", new JsonObject { ["room_version"] = "9" })).Body["room_id"]!.GetValue<string>();
        (await _admin.PutAsync($"/_matrix/client/v3/rooms/{v9}/state/m.room.power_levels",
            new JsonObject { ["ban"] = "50", ["users"] = new JsonObject { [_admin.UserId] = 100 } })).Status.Should().Be(200);
        // After the refused attempts above (any order), the creator still holds the room.
        (await _admin.PutAsync($"/_matrix/client/v3/rooms/{_roomId}/state/m.room.power_levels",
            new JsonObject { ["users"] = new JsonObject { [_admin.UserId] = 100 }, ["events"] = new JsonObject { ["m.room.name"] = 50 } })).Status.Should().Be(200);

        var filter = new JsonObject
        {
            ["room"] = new JsonObject { ["timeline"] = new JsonObject { ["limit"] = 5, ["types"] = new JsonArray("m.room.*") }, ["include_leave"] = false },
            ["presence"] = new JsonObject { ["senders"] = new JsonArray(_admin.UserId) },
            ["org.example.future"] = true,
        };
        var (status, created) = await _admin.PostAsync($"/_matrix/client/v3/user/{Uri.EscapeDataString(_admin.UserId)}/filter", filter);
        status.Should().Be(200);
        var stored = (await _admin.GetAsync($"/_matrix/client/v3/user/{Uri.EscapeDataString(_admin.UserId)}/filter/{created["filter_id"]}")).Body;
        stored["room"]!["timeline"]!["limit"]!.GetValue<int>().Should().Be(5);
        (await _admin.GetAsync($"/_matrix/client/v3/sync?filter={created["filter_id"]}")).Status.Should().Be(200);

        (await _admin.PutAsync("/_matrix/client/v3/pushrules/global/override/ok", new JsonObject
        {
            ["actions"] = new JsonArray("notify", new JsonObject { ["set_tweak"] = "sound", ["value"] = "default" }),
            ["conditions"] = new JsonArray(
                new JsonObject { ["kind"] = "event_match", ["key"] = "type", ["pattern"] = "m.room.message" },
                new JsonObject { ["kind"] = "event_property_is", ["key"] = "content.n", ["value"] = 3 },
                new JsonObject { ["kind"] = "org.example.unknown" }),
        })).Status.Should().Be(200);
        (await _admin.GetAsync("/_matrix/client/v3/pushrules/global/override/r1")).Status.Should().Be(404, "the refused rule was not stored");

        var (keysStatus, keys) = await _admin.PostAsync("/_matrix/client/v3/keys/upload", new JsonObject
        {
            ["one_time_keys"] = new JsonObject
            {
                ["curve25519:K1"] = "unsignedkeybase64",
                ["signed_curve25519:K2"] = new JsonObject { ["key"] = "signedkeybase64", ["signatures"] = new JsonObject() },
            },
        });
        keysStatus.Should().Be(200);
        keys["one_time_key_counts"]!["signed_curve25519"]!.GetValue<int>().Should().Be(1);

        (await _admin.GetAsync($"/_matrix/client/v3/rooms/{_roomId}/messages")).Status.Should().Be(200, "an absent dir means backwards");
    }

    [Fact]
    public async Task Oversized_request_targets_headers_and_bodies_get_matrix_errors()
    {
        using var http = new HttpClient { BaseAddress = fixture.Cluster.ApiHosts[0].BaseAddress };
        async Task<(int, string?)> ErrorOf(HttpResponseMessage response)
        {
            var text = await response.Content.ReadAsStringAsync();
            return ((int)response.StatusCode, System.Text.Json.Nodes.JsonNode.Parse(text)?["errcode"]?.GetValue<string>());
        }

        (await ErrorOf(await http.GetAsync("/_matrix/client/versions?x=" + new string('a', 9000)))).Should().Be((414, "M_TOO_LARGE"));
        using (var request = new HttpRequestMessage(HttpMethod.Get, "/_matrix/client/versions"))
        {
            request.Headers.Add("X-Padding", new string('b', 40_000));
            (await ErrorOf(await http.SendAsync(request))).Should().Be((431, "M_TOO_LARGE"));
        }
        // A body announced larger than the server takes is refused before it is sent (HttpClient would still be writing it).
        var address = fixture.Cluster.ApiHosts[0].BaseAddress;
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(address.Host, address.Port);
        var stream = tcp.GetStream();
        var head = "POST /_matrix/client/v3/createRoom HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + _admin.AccessToken +
            "\r\nContent-Type: application/json\r\nContent-Length: " + (64 * 1024 * 1024) + "\r\n\r\n";
        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(head));
        using var reader = new StreamReader(stream);
        var statusLine = await reader.ReadLineAsync();
        statusLine.Should().StartWith("HTTP/1.1 413");
        var answer = "";
        for (var line = await reader.ReadLineAsync(); line is not null; line = await reader.ReadLineAsync()) answer += line;
        answer.Should().Contain("\"errcode\":\"M_TOO_LARGE\"");
    }

    /// <summary>What Kestrel refuses before any middleware (malformed HTTP, limits far past ours) still answers with a Matrix error a browser can read.</summary>
    [Theory]
    [InlineData("GET /_matrix/client/versions HTTP/1.1\r\nHost: localhost\r\nBad Header Name: x\r\n\r\n", "400", "M_UNKNOWN")]
    [InlineData("GET /_matrix/client/ver sions HTTP/1.1\r\nHost: localhost\r\n\r\n", "400", "M_UNKNOWN")]
    [InlineData("GET /_matrix/client/versions HTTP/1.1\r\nHost: localhost\r\nX-Padding: {pad}\r\n\r\n", "431", "M_TOO_LARGE")]
    [InlineData("GET /_matrix/client/versions?x={pad} HTTP/1.1\r\nHost: localhost\r\n\r\n", "414", "M_TOO_LARGE")]
    public async Task Requests_kestrel_refuses_itself_get_a_matrix_error_body(string request, string status, string errCode)
    {
        var address = fixture.Cluster.ApiHosts[0].BaseAddress;
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(address.Host, address.Port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(request.Replace("{pad}", new string('p', 100_000))));
        using var reader = new StreamReader(stream);
        var answer = await reader.ReadToEndAsync();
        answer.Should().StartWith($"HTTP/1.1 {status}");
        answer.Should().Contain("Content-Type: application/json").And.Contain("Access-Control-Allow-Origin: *");
        var body = System.Text.Json.Nodes.JsonNode.Parse(answer[(answer.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..])!;
        body["errcode"]!.GetValue<string>().Should().Be(errCode);
        body["error"]!.GetValue<string>().Should().NotBeNullOrEmpty();
    }

    private Task<string[]> CountRowsAsync() => TableRows.FingerprintAsync(fixture.Cluster.ConnectionString, Tables);
}
