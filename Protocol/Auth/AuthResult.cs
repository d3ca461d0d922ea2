namespace Homeserver.Protocol;

/// <summary>The outcome of the authorization rules for one event; a denial says which rule.</summary>
public readonly record struct AuthResult(bool Allowed, string Reason)
{
    public static AuthResult Allow { get; } = new(true, "");
    public static AuthResult Deny(string reason) => new(false, reason);
}
