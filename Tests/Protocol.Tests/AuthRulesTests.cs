using System.Text.Json.Nodes;
using Homeserver.Protocol;

namespace Homeserver.Tests.Protocol;

/// <summary>
/// Authorization rules as data: a small room history (state events in order), one candidate event,
/// and the expected outcome. Histories are written as "sender type state_key content" lines.
/// </summary>
public sealed class AuthRulesTests
{
    private const string A = "@alice:a.org";
    private const string B = "@bob:a.org";
    private const string C = "@carol:b.org";

    // Alice's room: created, joined, Alice at 100, with the given join rule.
    private static string Room(string joinRule, string extraUsers = "") => """
        ALICE m.room.create ""  {"creator":"ALICE","room_version":"10"}
        ALICE m.room.member ALICE {"membership":"join"}
        ALICE m.room.power_levels "" {"users":{"ALICE":100EXTRA},"state_default":50,"kick":50,"ban":50,"invite":0}
        ALICE m.room.join_rules "" {"join_rule":"RULE"}
        """.Replace("RULE", joinRule).Replace("EXTRA", extraUsers);

    public static TheoryData<string, string, string, string, bool> Cases => new()
    {
        // name, version, history, candidate, allowed
        { "join public room", "10", Room("public"), """BOB m.room.member BOB {"membership":"join"}""", true },
        { "join invite-only room", "10", Room("invite"), """BOB m.room.member BOB {"membership":"join"}""", false },
        { "join after invite", "10", Room("invite") + "\n" + """ALICE m.room.member BOB {"membership":"invite"}""", """BOB m.room.member BOB {"membership":"join"}""", true },
        { "join someone else", "10", Room("public"), """ALICE m.room.member BOB {"membership":"join"}""", false },
        { "banned user joins", "10", Room("public") + "\n" + """ALICE m.room.member BOB {"membership":"ban"}""", """BOB m.room.member BOB {"membership":"join"}""", false },
        { "member invites", "10", Room("invite"), """ALICE m.room.member BOB {"membership":"invite"}""", true },
        { "non-member invites", "10", Room("invite"), """BOB m.room.member CAROL {"membership":"invite"}""", false },
        { "invite a banned user", "10", Room("public") + "\n" + """ALICE m.room.member BOB {"membership":"ban"}""", """ALICE m.room.member BOB {"membership":"invite"}""", false },
        { "third-party invite", "10", Room("invite"), """ALICE m.room.member BOB {"membership":"invite","third_party_invite":{"signed":{}}}""", false },
        { "reject an invite", "10", Room("invite") + "\n" + """ALICE m.room.member BOB {"membership":"invite"}""", """BOB m.room.member BOB {"membership":"leave"}""", true },
        { "leave without being in the room", "10", Room("public"), """BOB m.room.member BOB {"membership":"leave"}""", false },
        { "admin kicks member", "10", Room("public") + "\n" + """BOB m.room.member BOB {"membership":"join"}""", """ALICE m.room.member BOB {"membership":"leave"}""", true },
        { "member kicks admin", "10", Room("public") + "\n" + """BOB m.room.member BOB {"membership":"join"}""", """BOB m.room.member ALICE {"membership":"leave"}""", false },
        { "moderator unbans without ban power", "10", Room("public", ",\"BOB\":10") + "\n" + """BOB m.room.member BOB {"membership":"join"}""" + "\n" + """ALICE m.room.member CAROL {"membership":"ban"}""", """BOB m.room.member CAROL {"membership":"leave"}""", false },
        { "admin bans", "10", Room("public"), """ALICE m.room.member BOB {"membership":"ban"}""", true },
        { "unknown membership", "10", Room("public"), """ALICE m.room.member ALICE {"membership":"dance"}""", false },
        { "knock in a knock room", "7", Room("knock"), """BOB m.room.member BOB {"membership":"knock"}""", true },
        { "knock before version 7", "6", Room("knock"), """BOB m.room.member BOB {"membership":"knock"}""", false },
        { "knock on a public room", "10", Room("public"), """BOB m.room.member BOB {"membership":"knock"}""", false },
        { "knock_restricted allows knocking in v10", "10", Room("knock_restricted"), """BOB m.room.member BOB {"membership":"knock"}""", true },
        { "restricted join authorised by an inviter", "8", Room("restricted"), """BOB m.room.member BOB {"membership":"join","join_authorised_via_users_server":"ALICE"}""", true },
        { "restricted join without authoriser", "8", Room("restricted"), """BOB m.room.member BOB {"membership":"join"}""", false },
        { "restricted rule before version 8", "7", Room("restricted"), """BOB m.room.member BOB {"membership":"join","join_authorised_via_users_server":"ALICE"}""", false },
        { "message from a member", "10", Room("public") + "\n" + """BOB m.room.member BOB {"membership":"join"}""", """BOB m.room.message - {"body":"hi"}""", true },
        { "message from a non-member", "10", Room("public"), """BOB m.room.message - {"body":"hi"}""", false },
        { "member sets the room name", "10", Room("public") + "\n" + """BOB m.room.member BOB {"membership":"join"}""", """BOB m.room.name "" {"name":"x"}""", false },
        { "admin sets the room name", "10", Room("public"), """ALICE m.room.name "" {"name":"x"}""", true },
        { "state key of another user", "10", Room("public"), """ALICE com.example.state BOB {}""", false },
        { "state key of the sender", "10", Room("public"), """ALICE com.example.state ALICE {}""", true },
        { "member raises themselves", "10", Room("public") + "\n" + """BOB m.room.member BOB {"membership":"join"}""", """BOB m.room.power_levels "" {"users":{"ALICE":100,"BOB":100}}""", false },
        { "admin demotes themselves", "10", Room("public"), """ALICE m.room.power_levels "" {"users":{"ALICE":50},"state_default":50}""", true },
        { "moderator demotes the admin", "10", Room("public", ",\"BOB\":50") + "\n" + """BOB m.room.member BOB {"membership":"join"}""", """BOB m.room.power_levels "" {"users":{"ALICE":0,"BOB":50},"state_default":50}""", false },
        { "string power level in v10", "10", Room("public"), """ALICE m.room.power_levels "" {"users":{"ALICE":"100"}}""", false },
        { "string power level in v9", "9", Room("public"), """ALICE m.room.power_levels "" {"users":{"ALICE":"100"},"state_default":50}""", true },
        { "power level users key not a user ID", "10", Room("public"), """ALICE m.room.power_levels "" {"users":{"ALICE":100,"bob":5}}""", false },
        { "create with prev events", "10", "", """ALICE m.room.create "" {"creator":"ALICE"} prev""", false },
        { "create without creator in v10", "10", "", """ALICE m.room.create "" {"room_version":"10"}""", false },
        { "create without creator in v11", "11", "", """ALICE m.room.create "" {"room_version":"11"}""", true },
        { "create for an unknown room version", "10", "", """ALICE m.room.create "" {"creator":"ALICE","room_version":"99"}""", false },
        { "create by another server", "10", "", """CAROL m.room.create "" {"creator":"CAROL"}""", false },
        { "event in a room without create", "10", "", """ALICE m.room.message - {}""", false },
        { "remote user in a non-federating room", "10", """
            ALICE m.room.create "" {"creator":"ALICE","m.federate":false}
            ALICE m.room.member ALICE {"membership":"join"}
            ALICE m.room.join_rules "" {"join_rule":"public"}
            """, """CAROL m.room.member CAROL {"membership":"join"}""", false },
        { "creator joins first", "10", """ALICE m.room.create "" {"creator":"ALICE"}""", """ALICE m.room.member ALICE {"membership":"join"} prev""", true },
        { "someone else joins first", "10", """ALICE m.room.create "" {"creator":"ALICE"}""", """BOB m.room.member BOB {"membership":"join"} prev""", false },
        { "aliases event of the sender's server in v5", "5", Room("public"), """BOB m.room.aliases a.org {"aliases":[]}""", true },
        { "aliases event of another server in v5", "5", Room("public"), """BOB m.room.aliases b.org {"aliases":[]}""", false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Rules(string name, string version, string history, string candidate, bool allowed)
    {
        RoomVersions.TryGet(version, out var v).Should().BeTrue();
        var state = new Dictionary<(string, string), JsonObject>();
        foreach (var line in history.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var e = Parse(line);
            state[(e["type"]!.GetValue<string>(), e["state_key"]!.GetValue<string>())] = e;
        }
        var result = AuthRules.Check(Parse(candidate), new RoomAuthState(state), v, state.Count);
        result.Allowed.Should().Be(allowed, $"{name}: {result.Reason}");
        if (!allowed) result.Reason.Should().StartWith("rule");
    }

    /// <summary>"sender type state_key content [prev]": state_key "-" means a non-state event, "" an empty key.</summary>
    private static JsonObject Parse(string line)
    {
        line = line.Replace("ALICE", A).Replace("BOB", B).Replace("CAROL", C);
        var parts = line.Split(' ', 4);
        var rest = parts[3];
        var hasPrev = rest.EndsWith(" prev", StringComparison.Ordinal);
        var content = hasPrev ? rest[..^5] : rest;
        var e = new JsonObject
        {
            ["room_id"] = "!room:a.org",
            ["sender"] = parts[0],
            ["type"] = parts[1],
            ["content"] = JsonNode.Parse(content.Trim()),
            ["prev_events"] = hasPrev ? new JsonArray("$previous") : new JsonArray(),
        };
        if (parts[2] != "-") e["state_key"] = parts[2] == "\"\"" ? "" : parts[2];
        return e;
    }
}
