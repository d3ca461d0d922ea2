using System.Text.Json;
using System.Text.Json.Nodes;

namespace Homeserver.Protocol;

/// <summary>
/// Parses JSON from outside (request bodies, query parameters) eagerly and completely, so nothing
/// that System.Text.Json would only reject later, lazily, in the middle of a handler (an invalid or
/// overlong UTF-8 sequence, a lone surrogate, a duplicate key) ever gets past the edge. Strings with
/// U+0000 are refused too: PostgreSQL cannot store them in text or jsonb.
/// </summary>
public static class StrictJson
{
    /// <summary>How deep a request body may nest; every read path serves <see cref="StoredJson.MaxDepth"/>, well above it.</summary>
    public const int MaxDepth = 64;

    /// <summary>Parses <paramref name="utf8"/> or throws <see cref="StrictJsonException"/> saying what is wrong.</summary>
    public static JsonNode? Parse(ReadOnlySpan<byte> utf8)
    {
        Validate(utf8);
        return JsonNode.Parse(utf8, documentOptions: new JsonDocumentOptions { MaxDepth = MaxDepth });
    }

    private static void Validate(ReadOnlySpan<byte> utf8)
    {
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = MaxDepth });
        // One set of keys per open object (null for arrays), to find duplicates.
        var keys = new Stack<HashSet<string>?>();
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject:
                        keys.Push(new HashSet<string>(StringComparer.Ordinal));
                        break;
                    case JsonTokenType.StartArray:
                        keys.Push(null);
                        break;
                    case JsonTokenType.EndObject:
                    case JsonTokenType.EndArray:
                        keys.Pop();
                        break;
                    case JsonTokenType.PropertyName:
                        var key = Decode(ref reader);
                        if (!keys.Peek()!.Add(key)) throw new StrictJsonException(false, $"The key '{Shorten(key)}' appears twice in one object.");
                        break;
                    case JsonTokenType.String:
                        Decode(ref reader);
                        break;
                }
            }
        }
        catch (JsonException e)
        {
            throw new StrictJsonException(true, e.Message.Split(" LineNumber", 2)[0]);
        }
    }

    private static string Decode(ref Utf8JsonReader reader)
    {
        string text;
        try
        {
            text = reader.GetString()!;
        }
        catch (InvalidOperationException)
        {
            // Invalid or overlong UTF-8, or an escaped lone surrogate: not Unicode text.
            throw new StrictJsonException(true, "A string is not valid Unicode (invalid UTF-8 or a lone surrogate).");
        }
        if (text.Contains('\0', StringComparison.Ordinal)) throw new StrictJsonException(false, "Strings must not contain U+0000.");
        return text;
    }

    private static string Shorten(string key) => key.Length <= 64 ? key : key[..64] + "…";
}

/// <summary>JSON that <see cref="StrictJson"/> refused: <see cref="NotJson"/> when it is not JSON at all (M_NOT_JSON), else JSON we do not accept (M_BAD_JSON).</summary>
public sealed class StrictJsonException(bool notJson, string message) : Exception(message)
{
    public bool NotJson { get; } = notJson;
}

/// <summary>
/// Parses JSON this server stored itself. Whatever was accepted once must stay readable, whatever
/// limits applied when it was written, so stored JSON gets a depth far above any input limit.
/// </summary>
public static class StoredJson
{
    public const int MaxDepth = 256;

    private static readonly JsonDocumentOptions Options = new() { MaxDepth = MaxDepth };

    public static JsonNode? Parse(string json) => JsonNode.Parse(json, documentOptions: Options);

    /// <summary>Serializer options for answers that embed stored JSON (its depth plus the answer's own nesting).</summary>
    public static void Configure(JsonSerializerOptions options) => options.MaxDepth = MaxDepth + 16;
}
