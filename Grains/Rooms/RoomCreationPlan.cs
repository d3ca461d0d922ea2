using System.Text.Json.Nodes;
using Homeserver.Grains.Interfaces.Rooms;
using Homeserver.Protocol;

namespace Homeserver.Grains.Rooms;

/// <summary>
/// The events /createRoom produces, in the spec's order: create, the creator's join, power levels,
/// the preset's join rules, history visibility and guest access, initial_state, name, topic, invites.
/// </summary>
internal static class RoomCreationPlan
{
    public static IReadOnlyList<RoomEventDraft> For(CreateRoomCommand command, RoomVersion version)
    {
        var creator = command.Creator;
        var drafts = new List<RoomEventDraft>();

        var create = command.CreationContent?.DeepClone().AsObject() ?? [];
        create["room_version"] = version.Id;
        if (version.CreatorIsSender) create.Remove("creator");
        else create["creator"] = creator;
        drafts.Add(new(creator, "m.room.create", "", create));

        var member = command.CreatorMemberContent?.DeepClone().AsObject() ?? [];
        member["membership"] = "join";
        drafts.Add(new(creator, "m.room.member", creator, member));

        drafts.Add(new(creator, "m.room.power_levels", "", PowerLevels(command)));
        if (command.CanonicalAlias is { } alias)
        {
            drafts.Add(new(creator, "m.room.canonical_alias", "", new JsonObject { ["alias"] = alias }));
        }

        var (joinRule, guests) = command.Preset switch
        {
            "public_chat" => ("public", false),
            _ => ("invite", true),
        };
        // The preset's state only where initial_state does not set it (Synapse does so): no event sent only to be replaced.
        bool Given(string type) => (command.InitialState ?? []).Any(s => s.Type == type && s.StateKey.Length == 0);
        if (!Given("m.room.join_rules")) drafts.Add(new(creator, "m.room.join_rules", "", new JsonObject { ["join_rule"] = joinRule }));
        if (!Given("m.room.history_visibility"))
        {
            drafts.Add(new(creator, "m.room.history_visibility", "", new JsonObject { ["history_visibility"] = "shared" }));
        }
        if (guests && !Given("m.room.guest_access")) drafts.Add(new(creator, "m.room.guest_access", "", new JsonObject { ["guest_access"] = "can_join" }));

        foreach (var state in command.InitialState ?? [])
        {
            drafts.Add(new(creator, state.Type, state.StateKey, state.Content));
        }
        if (command.Name is { } name) drafts.Add(new(creator, "m.room.name", "", new JsonObject { ["name"] = name }));
        if (command.Topic is { } topic) drafts.Add(new(creator, "m.room.topic", "", new JsonObject { ["topic"] = topic }));
        foreach (var invitee in command.Invite ?? [])
        {
            var invite = new JsonObject { ["membership"] = "invite" };
            if (command.IsDirect) invite["is_direct"] = true;
            drafts.Add(new(creator, "m.room.member", invitee, invite));
        }
        return drafts;
    }

    private static JsonObject PowerLevels(CreateRoomCommand command)
    {
        var users = new JsonObject { [command.Creator] = 100 };
        if (command.Preset == "trusted_private_chat")
        {
            // Invitees of other servers too: their invites follow the creation, signed by their servers.
            foreach (var invitee in (command.Invite ?? []).Concat(command.RemoteInvite ?? [])) users[invitee] = 100;
        }
        var content = new JsonObject
        {
            ["users"] = users,
            ["users_default"] = 0,
            ["events"] = new JsonObject
            {
                ["m.room.name"] = 50,
                ["m.room.power_levels"] = 100,
                ["m.room.history_visibility"] = 100,
                ["m.room.canonical_alias"] = 50,
                ["m.room.avatar"] = 50,
                ["m.room.tombstone"] = 100,
                ["m.room.server_acl"] = 100,
                ["m.room.encryption"] = 100,
            },
            ["events_default"] = 0,
            ["state_default"] = 50,
            ["ban"] = 50,
            ["kick"] = 50,
            ["redact"] = 50,
            // Private presets let every member invite, as Synapse's do.
            ["invite"] = command.Preset == "public_chat" ? 50 : 0,
        };
        foreach (var (key, value) in command.PowerLevelContentOverride ?? [])
        {
            content[key] = value?.DeepClone();
        }
        return content;
    }
}

internal sealed record RoomEventDraft(string Sender, string Type, string? StateKey, JsonObject Content, string? Redacts = null);
