using System.Text.Json.Nodes;
using Homeserver.Grains.Interfaces;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Grains.Interfaces.Push;
using Homeserver.Grains.Streams;
using Homeserver.Protocol;
using Homeserver.Storage.Push;
using Orleans;
using Homeserver.Grains.Placement;

namespace Homeserver.Grains.Push;

/// <summary>Read-modify-write of one user's push rule changes; safe because this grain's turns never interleave.</summary>
[WriterPlacement(StreamNames.PushRules)]
public sealed class PushRulesGrain(PushRuleStore store, StreamPublisher publisher) : Grain, IPushRulesGrain
{
    private string UserId => this.GetPrimaryKeyString();

    public Task PutRuleAsync(string kind, string ruleId, JsonObject body, string? before, string? after, CancellationToken cancellationToken) =>
        EditAsync(rules => rules.Put(kind, ruleId, body, before, after));

    public Task DeleteRuleAsync(string kind, string ruleId, CancellationToken cancellationToken) => EditAsync(rules => rules.Delete(kind, ruleId));

    public Task SetEnabledAsync(string kind, string ruleId, bool enabled, CancellationToken cancellationToken) => EditAsync(rules => rules.SetEnabled(UserId, kind, ruleId, enabled));

    public Task SetActionsAsync(string kind, string ruleId, JsonArray actions, CancellationToken cancellationToken) => EditAsync(rules => rules.SetActions(UserId, kind, ruleId, actions));

    public Task CopyRoomRulesAsync(string oldRoomId, string newRoomId, CancellationToken cancellationToken) =>
        EditAsync(rules => rules.CopyRoomRules(oldRoomId, newRoomId));

    private Task EditAsync(Action<PushRuleSet> edit) => EditAsync(rules =>
    {
        edit(rules);
        return true;
    });

    /// <summary>Applies <paramref name="edit"/> and, when it changed something, stores and announces the rules.</summary>
    private async Task EditAsync(Func<PushRuleSet, bool> edit)
    {
        var rules = PushRuleSet.FromChanges(await store.GetChangesAsync(UserId));
        try
        {
            if (!edit(rules)) return;
        }
        catch (PushRuleException e)
        {
            throw e.NotFound ? MatrixException.NotFound(e.Message) : new MatrixException(400, "M_INVALID_PARAM", e.Message);
        }
        var position = await store.SetChangesAsync(UserId, rules.ChangesJson, publisher.Writer(StreamNames.PushRules));
        await publisher.PublishAsync(StreamNames.PushRules, UserId, position);
    }
}
