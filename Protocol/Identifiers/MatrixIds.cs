using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Homeserver.Protocol;

/// <summary>Shared grammar of sigil-prefixed identifiers: <c>sigil localpart [":" server_name]</c>, at most 255 bytes.</summary>
internal static class SigilId
{
    public const int MaxBytes = 255;

    public static bool TrySplit(string? value, char sigil, bool serverRequired, out string localpart, out ServerName? server)
    {
        localpart = "";
        server = null;
        if (string.IsNullOrEmpty(value) || value[0] != sigil || Encoding.UTF8.GetByteCount(value) > MaxBytes) return false;
        var colon = value.IndexOf(':');
        if (colon < 0)
        {
            if (serverRequired) return false;
            localpart = value[1..];
            return localpart.Length > 0;
        }
        localpart = value[1..colon];
        if (!ServerName.TryParse(value[(colon + 1)..], out var parsed)) return false;
        server = parsed;
        return true;
    }
}

/// <summary>A user ID, <c>@localpart:server</c>. Historical localparts are accepted; new ones must pass <see cref="IsValidNewLocalpart"/>.</summary>
[JsonConverter(typeof(IdJsonConverter<UserId>))]
public readonly record struct UserId : IParsableId<UserId>
{
    private UserId(string value, string localpart, ServerName server) => (Value, Localpart, Server) = (value, localpart, server);

    public string Value { get; }
    public string Localpart { get; }
    public ServerName Server { get; }
    public override string ToString() => Value;

    public static UserId Parse(string value) =>
        TryParse(value, out var id) ? id : throw new FormatException($"'{value}' is not a valid user ID.");

    public static bool TryParse(string? value, out UserId id)
    {
        id = default;
        if (!SigilId.TrySplit(value, '@', serverRequired: true, out var localpart, out var server)) return false;
        // Historical user IDs allow any printable ASCII except ':'.
        if (localpart.Length == 0 || localpart.Any(c => c is < '!' or > '~' or ':')) return false;
        id = new UserId(value!, localpart, server!.Value);
        return true;
    }

    public static UserId Create(string localpart, ServerName server) => Parse($"@{localpart}:{server}");

    /// <summary>The grammar for new user IDs: lower-case letters, digits and <c>._=-/+</c>.</summary>
    public static bool IsValidNewLocalpart(string localpart) =>
        localpart.Length > 0 && localpart.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '.' or '_' or '=' or '-' or '/' or '+');
}

/// <summary>A room ID, <c>!opaque:server</c> (or, from room version 12, <c>!opaque</c>).</summary>
[JsonConverter(typeof(IdJsonConverter<RoomId>))]
public readonly record struct RoomId : IParsableId<RoomId>
{
    private RoomId(string value, string opaque, ServerName? server) => (Value, Opaque, Server) = (value, opaque, server);

    public string Value { get; }
    public string Opaque { get; }
    public ServerName? Server { get; }
    public override string ToString() => Value;

    public static RoomId Parse(string value) =>
        TryParse(value, out var id) ? id : throw new FormatException($"'{value}' is not a valid room ID.");

    public static bool TryParse(string? value, out RoomId id)
    {
        id = default;
        if (!SigilId.TrySplit(value, '!', serverRequired: false, out var opaque, out var server) || opaque.Length == 0) return false;
        if (opaque.Any(char.IsControl)) return false;
        id = new RoomId(value!, opaque, server);
        return true;
    }

    /// <summary>A new random room ID on <paramref name="server"/>, 18 letters like Synapse's.</summary>
    public static RoomId New(ServerName server) => Parse($"!{RandomText.Letters(18)}:{server}");
}

/// <summary>An event ID: <c>$opaque:server</c> in room versions 1-2, <c>$base64hash</c> from version 3.</summary>
[JsonConverter(typeof(IdJsonConverter<EventId>))]
public readonly record struct EventId : IParsableId<EventId>
{
    private EventId(string value) => Value = value;

    public string Value { get; }
    public override string ToString() => Value;

    public static EventId Parse(string value) =>
        TryParse(value, out var id) ? id : throw new FormatException($"'{value}' is not a valid event ID.");

    public static bool TryParse(string? value, out EventId id)
    {
        id = default;
        if (string.IsNullOrEmpty(value) || value.Length < 2 || value[0] != '$' || Encoding.UTF8.GetByteCount(value) > SigilId.MaxBytes) return false;
        if (value.Any(char.IsControl)) return false;
        id = new EventId(value);
        return true;
    }
}

/// <summary>A room alias, <c>#alias:server</c>.</summary>
[JsonConverter(typeof(IdJsonConverter<RoomAlias>))]
public readonly record struct RoomAlias : IParsableId<RoomAlias>
{
    private RoomAlias(string value, string alias, ServerName server) => (Value, Alias, Server) = (value, alias, server);

    public string Value { get; }
    public string Alias { get; }
    public ServerName Server { get; }
    public override string ToString() => Value;

    public static RoomAlias Parse(string value) =>
        TryParse(value, out var id) ? id : throw new FormatException($"'{value}' is not a valid room alias.");

    public static bool TryParse(string? value, out RoomAlias id)
    {
        id = default;
        if (!SigilId.TrySplit(value, '#', serverRequired: true, out var alias, out var server)) return false;
        if (alias.Length == 0 || alias.Any(char.IsControl)) return false;
        id = new RoomAlias(value!, alias, server!.Value);
        return true;
    }
}

public interface IParsableId<TSelf> where TSelf : struct
{
    static abstract bool TryParse(string? value, out TSelf id);
}

internal sealed class IdJsonConverter<T> : JsonConverter<T> where T : struct, IParsableId<T>
{
    public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        T.TryParse(reader.GetString(), out var id) ? id : throw new JsonException($"Invalid {typeof(T).Name}.");

    public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToString());
}
