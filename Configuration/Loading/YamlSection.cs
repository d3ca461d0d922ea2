using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace Homeserver.Configuration;

/// <summary>A mapping in a YAML file that knows its own key path, so every error can name the exact key.</summary>
internal sealed class YamlSection(string file, string path, YamlMappingNode node)
{
    public string File => file;

    public YamlMappingNode Node => node;

    public string PathOf(string key) => path.Length == 0 ? key : $"{path}.{key}";

    public bool Has(string key) => Get(key) is not null and not YamlScalarNode { Value: null or "" or "~" or "null" };

    public string? String(string key) => Get(key) switch
    {
        null => null,
        YamlScalarNode { Value: null or "~" or "null" } => null,
        YamlScalarNode scalar => scalar.Value,
        _ => throw Error(key, "must be a string"),
    };

    public string RequiredString(string key) =>
        String(key) is { Length: > 0 } value ? value : throw new ConfigurationException($"{file}: `{PathOf(key)}` is missing.");

    public int Int(string key, int fallback, int min = int.MinValue, int max = int.MaxValue)
    {
        var text = String(key);
        if (text is null) return fallback;
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new ConfigurationException($"{file}: `{PathOf(key)}` must be a number from {min} to {max}, not `{text}`.");
        }
        return value;
    }

    public double Double(string key, double fallback)
    {
        var text = String(key);
        if (text is null) return fallback;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < 0)
        {
            throw new ConfigurationException($"{file}: `{PathOf(key)}` must be a non-negative number, not `{text}`.");
        }
        return value;
    }

    public bool Bool(string key, bool fallback)
    {
        var text = String(key);
        if (text is null) return fallback;
        return text.ToLowerInvariant() switch
        {
            "true" or "yes" or "on" => true,
            "false" or "no" or "off" => false,
            _ => throw new ConfigurationException($"{file}: `{PathOf(key)}` must be true or false, not `{text}`."),
        };
    }

    public YamlSection? Section(string key) => Get(key) switch
    {
        null or YamlScalarNode { Value: null or "" or "~" or "null" } => null,
        YamlMappingNode mapping => new YamlSection(file, PathOf(key), mapping),
        _ => throw Error(key, "must be a mapping of keys to values"),
    };

    public IReadOnlyList<YamlSection> Sections(string key) => Get(key) switch
    {
        null or YamlScalarNode { Value: null or "" or "~" or "null" } => [],
        YamlSequenceNode sequence => sequence.Children.Select((child, i) => child is YamlMappingNode m
            ? new YamlSection(file, $"{PathOf(key)}[{i}]", m)
            : throw new ConfigurationException($"{file}: `{PathOf(key)}[{i}]` must be a mapping of keys to values.")).ToList(),
        _ => throw Error(key, "must be a list"),
    };

    /// <summary>A value Synapse accepts as either one string or a list of strings.</summary>
    public IReadOnlyList<string>? StringOrList(string key) => Get(key) switch
    {
        null or YamlScalarNode { Value: null or "~" or "null" } => null,
        YamlScalarNode scalar => [scalar.Value!],
        YamlSequenceNode sequence => sequence.Children.Select((child, i) => child is YamlScalarNode { Value: { } v }
            ? v
            : throw new ConfigurationException($"{file}: `{PathOf(key)}[{i}]` must be a string.")).ToList(),
        _ => throw Error(key, "must be a string or a list of strings"),
    };

    public IEnumerable<string> Keys => node.Children.Keys.OfType<YamlScalarNode>().Select(k => k.Value!);

    private YamlNode? Get(string key) => node.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    private ConfigurationException Error(string key, string what) => new($"{file}: `{PathOf(key)}` {what}.");
}
