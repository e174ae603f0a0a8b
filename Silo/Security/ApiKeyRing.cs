using System.Security.Cryptography;
using System.Text;

namespace Orleans.Search.Silo.Security;

/// <summary>Who an API key stands for.</summary>
public sealed record ApiKeyOwner(string User, string Role);

/// <summary>
/// The configured keys, held as SHA-256 hashes only. A presented key is hashed and compared with every stored hash
/// in fixed time, so neither the comparison nor which entry matched shows in how long the answer takes.
/// </summary>
public sealed class ApiKeyRing
{
    private readonly (byte[] Hash, ApiKeyOwner Owner)[] _keys;

    public ApiKeyRing(AuthOptions options)
    {
        _keys = options.Keys.OrderBy(k => k.Key, StringComparer.Ordinal)
            .Where(k => k.Value.Sha256 is { Length: 64 } hex && hex.All(char.IsAsciiHexDigit) && !string.IsNullOrWhiteSpace(k.Value.User))
            .Select(k => (Convert.FromHexString(k.Value.Sha256!), new ApiKeyOwner(k.Value.User!, RoleOf(k.Value.Role))))
            .ToArray();
    }

    public int Count => _keys.Length;

    /// <summary>The hex SHA-256 of a key, as <c>Auth:Keys:{n}:Sha256</c> holds it.</summary>
    public static string HashHex(string key) => Convert.ToHexStringLower(Hash(key));

    /// <summary>The owner of <paramref name="presented"/>, or null when it is no configured key.</summary>
    public ApiKeyOwner? Find(string presented)
    {
        var hash = Hash(presented);
        ApiKeyOwner? found = null;
        foreach (var (stored, owner) in _keys)
        {
            // No early exit: every entry costs the same whether or not one matched before it.
            if (CryptographicOperations.FixedTimeEquals(hash, stored))
            {
                found = owner;
            }
        }
        return found;
    }

    private static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    private static string RoleOf(string? role) => string.Equals(role, Roles.Admin, StringComparison.OrdinalIgnoreCase) ? Roles.Admin : Roles.User;
}
