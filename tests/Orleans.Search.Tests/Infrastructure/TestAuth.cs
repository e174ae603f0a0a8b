using System.Security.Cryptography;
using System.Text;

namespace Orleans.Search.Tests.Infrastructure;

/// <summary>
/// API keys as gateway configuration, written in one place: when the configured format changes, <see cref="Settings"/>
/// switches from one method to the other and every test that uses it follows.
/// </summary>
public static class TestAuth
{
    /// <summary>A key a caller presents, the user it stands for, and that user's role (<c>user</c> or <c>admin</c>).</summary>
    public sealed record ApiKey(string Secret, string User, string Role = "user");

    /// <summary>The settings that make a gateway accept exactly <paramref name="keys"/>.</summary>
    public static Dictionary<string, string> Settings(params ApiKey[] keys) => HashedKeys(keys);

    /// <summary><c>Auth:Keys:{n}:Sha256</c> (hex SHA-256 of the key), <c>User</c> and <c>Role</c>: only the hash in configuration.</summary>
    public static Dictionary<string, string> HashedKeys(IEnumerable<ApiKey> keys)
    {
        var settings = new Dictionary<string, string> { ["Auth:Mode"] = "keys" };
        foreach (var (key, n) in keys.Select((k, n) => (k, n)))
        {
            foreach (var (name, value) in KeySettings(n, key))
            {
                settings[name] = value;
            }
        }
        return settings;
    }

    /// <summary>The hex SHA-256 of a key: what the gateway is configured with, never the key itself.</summary>
    public static string Sha256(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    /// <summary><c>Auth:Keys:{n}:Sha256</c>, <c>User</c> and <c>Role</c> for one key.</summary>
    public static IEnumerable<(string Name, string Value)> KeySettings(int n, ApiKey key) =>
        [($"Auth:Keys:{n}:Sha256", Sha256(key.Secret)), ($"Auth:Keys:{n}:User", key.User), ($"Auth:Keys:{n}:Role", key.Role)];
}
