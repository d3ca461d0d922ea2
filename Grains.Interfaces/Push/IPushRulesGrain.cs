using System.Text.Json.Nodes;
using Orleans;

namespace Homeserver.Grains.Interfaces.Push;

/// <summary>Writer of one user's push rules (key: user ID), on the <c>push_rules</c> writers.</summary>
[Alias("IPushRulesGrain")]
public interface IPushRulesGrain : IGrainWithStringKey
{
    /// <summary>Adds or replaces a user rule; <paramref name="before"/>/<paramref name="after"/> name a user rule of the same kind.</summary>
    Task PutRuleAsync(string kind, string ruleId, JsonObject body, string? before, string? after, CancellationToken cancellationToken = default);

    Task DeleteRuleAsync(string kind, string ruleId, CancellationToken cancellationToken = default);

    Task SetEnabledAsync(string kind, string ruleId, bool enabled, CancellationToken cancellationToken = default);

    Task SetActionsAsync(string kind, string ruleId, JsonArray actions, CancellationToken cancellationToken = default);

    /// <summary>After a room upgrade: the user's rules about <paramref name="oldRoomId"/> copied to <paramref name="newRoomId"/>.</summary>
    Task CopyRoomRulesAsync(string oldRoomId, string newRoomId, CancellationToken cancellationToken = default);
}
