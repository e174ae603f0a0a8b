namespace Orleans.Search.Silo.Security;

/// <summary>
/// The <c>Auth</c> section. <c>Mode</c> = <c>keys</c> (callers present an API key) or <c>none</c> (everyone is user
/// <c>local</c>; only for loopback). Without a mode it is <c>keys</c> when keys are configured, else <c>none</c>.
/// Keys are configured by their SHA-256 only: <c>Auth:Keys:{n}:Sha256</c>, <c>User</c>, <c>Role</c> (<c>user</c> or <c>admin</c>).
/// </summary>
public sealed class AuthOptions
{
    public const string Section = "Auth";
    public const string LocalUser = "local";
    public const string KeysMode = "keys";
    public const string NoneMode = "none";

    public string? Mode { get; set; }

    /// <summary>By their configuration name (<c>{n}</c>): any name will do, numbers are customary.</summary>
    public Dictionary<string, ApiKeyOptions> Keys { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Whether callers must present a key. An unknown mode (refused at start anyway) counts as keys.</summary>
    public bool RequiresKeys => Mode is null ? Keys.Count > 0 : !string.Equals(Mode, NoneMode, StringComparison.OrdinalIgnoreCase);
}

/// <summary>One API key: the hex SHA-256 of the key (never the key itself), the user it stands for and that user's role.</summary>
public sealed class ApiKeyOptions
{
    public string? Sha256 { get; set; }

    public string? User { get; set; }

    public string? Role { get; set; }
}

public static class Roles
{
    public const string User = "user";

    /// <summary>May read operational data: <c>/metrics</c> and the Orleans dashboard.</summary>
    public const string Admin = "admin";
}

/// <summary>Refuses to start with an auth configuration that is malformed, ambiguous or the old plain-text one.</summary>
public sealed class AuthOptionsValidator(IConfiguration configuration) : IValidateOptions<AuthOptions>
{
    public const int MaxUserLength = 100;

    public ValidateOptionsResult Validate(string? name, AuthOptions options)
    {
        var failures = new List<string>();
        if (configuration.GetSection($"{AuthOptions.Section}:ApiKeys").Exists())
        {
            // The old section's names are the keys themselves: never repeat them here.
            failures.Add("Auth:ApiKeys is no longer read: it kept API keys in plain text in configuration names. For each key, "
                + "run `dotnet run --project Gateway -- hash-key` (or `dotnet Orleans.Search.Gateway.dll hash-key`), type the key, and configure "
                + "Auth:Keys:{n}:Sha256 = the printed hash, Auth:Keys:{n}:User = the user id (and Auth:Keys:{n}:Role = admin for operators); "
                + "then delete the Auth:ApiKeys section.");
        }
        var mode = options.Mode;
        if (mode is not null && !string.Equals(mode, AuthOptions.KeysMode, StringComparison.OrdinalIgnoreCase)
            && !string.Equals(mode, AuthOptions.NoneMode, StringComparison.OrdinalIgnoreCase))
        {
            failures.Add($"Auth:Mode must be '{AuthOptions.KeysMode}' or '{AuthOptions.NoneMode}'; it is '{mode}'.");
        }
        else if (options.RequiresKeys && options.Keys.Count == 0)
        {
            failures.Add("Auth:Mode=keys needs at least one key: Auth:Keys:{n}:Sha256 (the key's hash, from `hash-key`) and Auth:Keys:{n}:User.");
        }
        else if (mode is not null && !options.RequiresKeys && options.Keys.Count > 0)
        {
            failures.Add("Auth:Mode=none, yet Auth:Keys are configured: remove the keys or the mode, so it is clear whether keys are needed.");
        }

        var seen = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (n, key) in options.Keys.OrderBy(k => k.Key, StringComparer.Ordinal))
        {
            var prefix = $"Auth:Keys:{n}";
            if (key.Sha256 is not { Length: 64 } hash || !hash.All(char.IsAsciiHexDigit))
            {
                failures.Add($"{prefix}:Sha256 must be the 64 hex digits of the key's SHA-256 (`hash-key` prints it).");
            }
            else if (seen.TryGetValue(hash, out var first))
            {
                failures.Add($"{prefix}:Sha256 is the same key as {first}:Sha256; one key stands for one user.");
            }
            else
            {
                seen[hash] = prefix;
            }
            if (string.IsNullOrWhiteSpace(key.User) || key.User.Length > MaxUserLength || key.User.Any(char.IsControl) || key.User.Trim() != key.User)
            {
                failures.Add($"{prefix}:User must name the key's user: 1–{MaxUserLength} printable characters, no surrounding spaces.");
            }
            if (key.Role is not null && !string.Equals(key.Role, Roles.User, StringComparison.OrdinalIgnoreCase)
                && !string.Equals(key.Role, Roles.Admin, StringComparison.OrdinalIgnoreCase))
            {
                failures.Add($"{prefix}:Role must be '{Roles.User}' (the default) or '{Roles.Admin}'; it is '{key.Role}'.");
            }
        }
        return failures.Count > 0 ? ValidateOptionsResult.Fail(failures) : ValidateOptionsResult.Success;
    }
}

/// <summary>
/// Without keys, whoever reaches the service acts as user <c>local</c> (and may read operational data), so a host
/// serving the API refuses to start in that mode unless every address it listens on is loopback.
/// </summary>
public sealed class LoopbackOnlyWithoutKeys(IConfiguration configuration) : IValidateOptions<AuthOptions>
{
    public ValidateOptionsResult Validate(string? name, AuthOptions options)
    {
        if (options.RequiresKeys)
        {
            return ValidateOptionsResult.Success;
        }
        var exposed = ListenAddresses.Configured(configuration).Where(url => !ListenAddresses.IsLoopback(url)).ToList();
        return exposed.Count == 0
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(
                $"Auth:Mode=none (no API keys) lets anyone who reaches the service act as user '{AuthOptions.LocalUser}', so every listen "
                + $"address must be loopback (localhost, 127.0.0.1, [::1]); {string.Join(", ", exposed)} is not. Either listen on loopback "
                + "only, or configure API keys: Auth:Keys:{n}:Sha256 (from `hash-key`), Auth:Keys:{n}:User and Auth:Keys:{n}:Role.");
    }
}
