namespace Homeserver.Grains.Interfaces;

/// <summary>Stream names as Synapse's <c>stream_writers</c> spells them; also the PostgreSQL sequence prefixes.</summary>
public static class StreamNames
{
    public const string Events = "events";
    public const string AccountData = "account_data";
    public const string ToDevice = "to_device";
    public const string Receipts = "receipts";
    public const string Presence = "presence";
    public const string Typing = "typing";
    public const string PushRules = "push_rules";
    public const string DeviceLists = "device_lists";
}
