using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Homeserver.Protocol;

/// <summary>
/// The spec's canonical JSON: the shortest UTF-8 encoding, object keys sorted by Unicode code point,
/// integers only, in [-(2^53)+1, 2^53-1]. Written by hand because System.Text.Json's encoders
/// escape more than the shortest form allows.
/// </summary>
public static class CanonicalJson
{
    public const long MaxSafeInteger = (1L << 53) - 1;

    public static byte[] Encode(JsonNode? node) => Encoding.UTF8.GetBytes(ToCanonicalString(node));

    public static string ToCanonicalString(JsonNode? node)
    {
        var builder = new StringBuilder();
        Write(builder, node);
        return builder.ToString();
    }

    private static void Write(StringBuilder output, JsonNode? node)
    {
        switch (node)
        {
            case null:
                output.Append("null");
                break;
            case JsonObject obj:
                output.Append('{');
                var first = true;
                foreach (var (key, value) in obj.OrderBy(kv => kv.Key, CodepointComparer.Instance))
                {
                    if (!first) output.Append(',');
                    first = false;
                    WriteString(output, key);
                    output.Append(':');
                    Write(output, value);
                }
                output.Append('}');
                break;
            case JsonArray array:
                output.Append('[');
                for (var i = 0; i < array.Count; i++)
                {
                    if (i > 0) output.Append(',');
                    Write(output, array[i]);
                }
                output.Append(']');
                break;
            case JsonValue value:
                WriteValue(output, value);
                break;
        }
    }

    private static void WriteValue(StringBuilder output, JsonValue value)
    {
        switch (value.GetValueKind())
        {
            case JsonValueKind.String:
                WriteString(output, value.GetValue<string>());
                break;
            case JsonValueKind.True:
                output.Append("true");
                break;
            case JsonValueKind.False:
                output.Append("false");
                break;
            case JsonValueKind.Null:
                output.Append("null");
                break;
            case JsonValueKind.Number:
                // The value may be a parsed number or any CLR numeric type; its JSON text covers both.
                // 1e10 and -0 are integers written another way; 1.5 is not.
                var text = value.ToJsonString();
                if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
                {
                    if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) ||
                        number != Math.Floor(number) || Math.Abs(number) > MaxSafeInteger)
                    {
                        throw new CanonicalJsonException($"Canonical JSON allows only integers up to 2^53-1, not {text}.");
                    }
                    integer = (long)number;
                }
                if (integer is > MaxSafeInteger or < -MaxSafeInteger)
                {
                    throw new CanonicalJsonException($"The integer {integer} is outside the range canonical JSON allows.");
                }
                output.Append(integer.ToString(CultureInfo.InvariantCulture));
                break;
            default:
                throw new CanonicalJsonException($"Unsupported JSON value {value.ToJsonString()}.");
        }
    }

    private static void WriteString(StringBuilder output, string text)
    {
        output.Append('"');
        foreach (var c in text)
        {
            switch (c)
            {
                case '"': output.Append("\\\""); break;
                case '\\': output.Append("\\\\"); break;
                case '\b': output.Append("\\b"); break;
                case '\f': output.Append("\\f"); break;
                case '\n': output.Append("\\n"); break;
                case '\r': output.Append("\\r"); break;
                case '\t': output.Append("\\t"); break;
                case < ' ': output.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture)); break;
                default: output.Append(c); break;
            }
        }
        output.Append('"');
    }

    /// <summary>Orders strings by Unicode code point (UTF-16 ordinal order differs above U+FFFF).</summary>
    private sealed class CodepointComparer : IComparer<string>
    {
        public static readonly CodepointComparer Instance = new();

        public int Compare(string? x, string? y)
        {
            var a = x!.EnumerateRunes();
            var b = y!.EnumerateRunes();
            while (true)
            {
                var hasA = a.MoveNext();
                var hasB = b.MoveNext();
                if (!hasA || !hasB) return hasA.CompareTo(hasB);
                var diff = a.Current.Value.CompareTo(b.Current.Value);
                if (diff != 0) return diff;
            }
        }
    }
}

public sealed class CanonicalJsonException(string message) : Exception(message);
