using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;
using Org.BouncyCastle.Security;

namespace Homeserver.Protocol;

/// <summary>An Ed25519 server signing key: a 32-byte seed and a version, identified as <c>ed25519:version</c>.</summary>
public sealed class SigningKey
{
    private readonly Ed25519PrivateKeyParameters _private;

    private SigningKey(byte[] seed, string version)
    {
        if (seed.Length != 32) throw new ArgumentException("An Ed25519 seed is 32 bytes.", nameof(seed));
        Seed = seed;
        Version = version;
        _private = new Ed25519PrivateKeyParameters(seed, 0);
        PublicKey = _private.GeneratePublicKey().GetEncoded();
    }

    public byte[] Seed { get; }
    public string Version { get; }
    public string KeyId => "ed25519:" + Version;
    public byte[] PublicKey { get; }
    public string PublicKeyBase64 => UnpaddedBase64.Encode(PublicKey);

    public static SigningKey Generate()
    {
        var seed = new byte[32];
        new SecureRandom().NextBytes(seed);
        return new SigningKey(seed, "a_" + RandomText.Letters(4));
    }

    public static SigningKey FromSeed(byte[] seed, string version) => new(seed, version);

    public byte[] Sign(ReadOnlySpan<byte> message)
    {
        var signer = new Ed25519Signer();
        signer.Init(true, _private);
        var bytes = message.ToArray();
        signer.BlockUpdate(bytes, 0, bytes.Length);
        return signer.GenerateSignature();
    }

    public static bool Verify(ReadOnlySpan<byte> message, byte[] signature, byte[] publicKey)
    {
        if (publicKey.Length != 32 || signature.Length != 64) return false;
        var verifier = new Ed25519Signer();
        verifier.Init(false, new Ed25519PublicKeyParameters(publicKey, 0));
        var bytes = message.ToArray();
        verifier.BlockUpdate(bytes, 0, bytes.Length);
        return verifier.VerifySignature(signature);
    }

    /// <summary>Synapse's signing key file line: <c>ed25519 &lt;version&gt; &lt;unpadded base64 seed&gt;</c>.</summary>
    public string ToSynapseFormat() => $"ed25519 {Version} {UnpaddedBase64.Encode(Seed)}";

    public static SigningKey ParseSynapseFormat(string line)
    {
        var parts = line.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 3 || parts[0] != "ed25519")
        {
            throw new FormatException("A signing key line reads 'ed25519 <version> <base64 seed>'.");
        }
        return new SigningKey(UnpaddedBase64.Decode(parts[2]), parts[1]);
    }
}
