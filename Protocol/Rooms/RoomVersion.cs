namespace Homeserver.Protocol;

/// <summary>What differs between room versions, as the rest of the code needs to know it.</summary>
public sealed record RoomVersion(
    string Id,
    int Number,
    bool EventIdsAreServerScoped,
    bool EventIdsAreUrlSafe,
    bool KnockAllowed,
    bool RestrictedJoinAllowed,
    bool KnockRestrictedAllowed,
    bool EnforceIntegerPowerLevels,
    bool CreatorIsSender,
    bool AliasesSpecialCased,
    bool StrictCanonicalJson)
{
    /// <summary>Redaction keeps <c>join_rules.allow</c> (v8+).</summary>
    public bool RedactionKeepsJoinRulesAllow => Number >= 8;

    /// <summary>Redaction keeps <c>member.join_authorised_via_users_server</c> (v9+).</summary>
    public bool RedactionKeepsJoinAuthorisedVia => Number >= 9;

    /// <summary>The v11 redaction algorithm (MSC2176/MSC3821/MSC3989).</summary>
    public bool RedactionV11 => Number >= 11;

    /// <summary>Only room version 1 keeps the original algorithm; version 2 introduced v2 and every later version kept it.</summary>
    public StateResolutionAlgorithm StateResolution => Number == 1 ? StateResolutionAlgorithm.V1 : StateResolutionAlgorithm.V2;
}

public static class RoomVersions
{
    public const string DefaultId = "10";

    private static readonly Dictionary<string, RoomVersion> Known = Enumerable.Range(1, 11)
        .Select(n => new RoomVersion(
            Id: n.ToString(System.Globalization.CultureInfo.InvariantCulture),
            Number: n,
            EventIdsAreServerScoped: n <= 2,
            EventIdsAreUrlSafe: n >= 4,
            KnockAllowed: n >= 7,
            RestrictedJoinAllowed: n >= 8,
            KnockRestrictedAllowed: n >= 10,
            EnforceIntegerPowerLevels: n >= 10,
            CreatorIsSender: n >= 11,
            AliasesSpecialCased: n <= 5,
            StrictCanonicalJson: n >= 6))
        .ToDictionary(v => v.Id);

    public static RoomVersion Default => Known[DefaultId];

    public static IReadOnlyCollection<RoomVersion> All => Known.Values;

    public static bool TryGet(string? id, out RoomVersion version)
    {
        version = null!;
        return id is not null && Known.TryGetValue(id, out version!);
    }
}
