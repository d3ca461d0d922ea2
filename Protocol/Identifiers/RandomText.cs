using System.Security.Cryptography;

namespace Homeserver.Protocol;

/// <summary>Random identifiers from a cryptographic source.</summary>
public static class RandomText
{
    private const string LettersAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    private const string UrlSafeAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";

    public static string Letters(int length) => RandomNumberGenerator.GetString(LettersAlphabet, length);

    public static string UrlSafe(int length) => RandomNumberGenerator.GetString(UrlSafeAlphabet, length);
}
