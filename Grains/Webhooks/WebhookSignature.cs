using System.Security.Cryptography;
using System.Text;

namespace Orleans.Search.Webhooks;

/// <summary>
/// Standard Webhooks signing: <c>v1,</c> + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")), where the key is the
/// base64-decoded part of the secret after <c>whsec_</c>. Several secrets give several signatures, space-separated.
/// </summary>
public static class WebhookSignature
{
    public const string SecretPrefix = "whsec_";

    /// <summary>Random bytes in a new secret.</summary>
    public const int SecretBytes = 32;

    /// <summary>A new secret: <c>whsec_</c> + base64 of <see cref="SecretBytes"/> random bytes.</summary>
    public static string NewSecret() => SecretPrefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(SecretBytes));

    /// <summary>The <c>webhook-signature</c> header value: one <c>v1,</c> signature per secret, in the order given.</summary>
    public static string Sign(IEnumerable<string> secrets, string id, long timestamp, ReadOnlySpan<byte> body)
    {
        var signatures = new List<string>();
        foreach (var secret in secrets)
        {
            signatures.Add("v1," + Convert.ToBase64String(Compute(secret, id, timestamp, body)));
        }
        return string.Join(' ', signatures);
    }

    /// <summary>One signature's HMAC (without the <c>v1,</c> prefix and base64).</summary>
    public static byte[] Compute(string secret, string id, long timestamp, ReadOnlySpan<byte> body)
    {
        var key = Convert.FromBase64String(secret.StartsWith(SecretPrefix, StringComparison.Ordinal) ? secret[SecretPrefix.Length..] : secret);
        var prefix = Encoding.UTF8.GetBytes($"{id}.{timestamp}.");
        var content = new byte[prefix.Length + body.Length];
        prefix.CopyTo(content, 0);
        body.CopyTo(content.AsSpan(prefix.Length));
        return HMACSHA256.HashData(key, content);
    }
}
