using System.Globalization;
using Homeserver.Grains.Interfaces.Errors;

namespace Homeserver.ApiHost.ClientApi.Sync;

/// <summary>
/// A /sync token: one safe position per stream, as
/// <c>s&lt;events&gt;_&lt;account_data&gt;_&lt;typing&gt;_&lt;receipts&gt;_&lt;to_device&gt;_&lt;device_lists&gt;_&lt;presence&gt;_&lt;push_rules&gt;</c>.
/// Parts a shorter (older) token lacks read as 0, so tokens from before an upgrade keep working.
/// </summary>
public sealed record SyncToken(long Events, long AccountData, long Typing, long Receipts, long ToDevice, long DeviceLists, long Presence, long PushRules)
{
    private const int Parts = 8;

    public static readonly SyncToken Zero = new(0, 0, 0, 0, 0, 0, 0, 0);

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"s{Events}_{AccountData}_{Typing}_{Receipts}_{ToDevice}_{DeviceLists}_{Presence}_{PushRules}");

    /// <summary>Each part the higher of the two, so a token never moves backwards.</summary>
    public SyncToken Max(SyncToken other) => new(
        Math.Max(Events, other.Events), Math.Max(AccountData, other.AccountData), Math.Max(Typing, other.Typing),
        Math.Max(Receipts, other.Receipts), Math.Max(ToDevice, other.ToDevice), Math.Max(DeviceLists, other.DeviceLists),
        Math.Max(Presence, other.Presence), Math.Max(PushRules, other.PushRules));

    public static SyncToken Parse(string token, string parameter = "since")
    {
        var parts = token.StartsWith('s') ? token[1..].Split('_') : [];
        var values = new long[Parts];
        if (parts.Length is >= 1 and <= Parts &&
            parts.Select((p, i) => long.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out values[i])).All(ok => ok))
        {
            return new SyncToken(values[0], values[1], values[2], values[3], values[4], values[5], values[6], values[7]);
        }
        throw new MatrixException(400, "M_INVALID_PARAM", $"'{parameter}' is not a sync token of this server.");
    }
}
