namespace Homeserver.Configuration;

/// <summary>A configuration value is wrong or missing; the message is one sentence naming the file and key.</summary>
public sealed class ConfigurationException(string message) : Exception(message);
