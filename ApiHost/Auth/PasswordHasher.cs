using System.Text;

namespace Homeserver.ApiHost.Auth;

/// <summary>
/// bcrypt as Synapse stores it ($2b$, <c>bcrypt_rounds</c> cost, over the UTF-8 of the NFKC form),
/// so password hashes move between the two servers. BouncyCastle's bcrypt was replaced because it
/// did not verify its own hashes of non-ASCII passwords.
/// </summary>
public sealed class PasswordHasher(int rounds)
{
    public string Hash(string password) =>
        BCrypt.Net.BCrypt.HashPassword(Normalize(password), BCrypt.Net.BCrypt.GenerateSalt(rounds, 'b'));

    public bool Verify(string password, string? hash)
    {
        if (string.IsNullOrEmpty(hash)) return false;
        try
        {
            return BCrypt.Net.BCrypt.Verify(Normalize(password), hash);
        }
        catch (BCrypt.Net.SaltParseException)
        {
            return false;
        }
    }

    private static string Normalize(string password) => password.Normalize(NormalizationForm.FormKC);
}
