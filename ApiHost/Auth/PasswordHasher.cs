using System.Security.Cryptography;
using System.Text;
using Org.BouncyCastle.Crypto.Generators;

namespace Homeserver.ApiHost.Auth;

/// <summary>
/// bcrypt as Synapse stores it ($2b$, <c>bcrypt_rounds</c> cost), so password hashes move between
/// the two servers. Passwords are NFKC-normalised first, as Synapse does.
/// </summary>
public sealed class PasswordHasher(int rounds)
{
    public string Hash(string password)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        return OpenBsdBCrypt.Generate("2b", Normalize(password), salt, rounds);
    }

    public bool Verify(string password, string? hash)
    {
        if (string.IsNullOrEmpty(hash)) return false;
        try
        {
            return OpenBsdBCrypt.CheckPassword(hash, Normalize(password));
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static char[] Normalize(string password) => password.Normalize(NormalizationForm.FormKC).ToCharArray();
}
