using Orleans.Search.Silo.Security;

namespace Orleans.Search.Gateway.Auth;

/// <summary>
/// <c>hash-key</c>: reads an API key from stdin and prints its hex SHA-256, the value of <c>Auth:Keys:{n}:Sha256</c>.
/// The key itself never needs to be in configuration.
/// </summary>
public static class HashKeyCommand
{
    public const string Name = "hash-key";

    public static int Run(TextReader input, TextWriter output, TextWriter error, bool interactive)
    {
        if (interactive)
        {
            error.Write("API key (it shows as you type; pipe it in to keep it off the screen): ");
        }
        // Presented keys are trimmed, so the hash is of the trimmed key too.
        var key = input.ReadLine()?.Trim();
        if (string.IsNullOrEmpty(key))
        {
            error.WriteLine($"{Name}: no key was given. Usage: printf '%s' \"$KEY\" | dotnet run --project Gateway -- {Name}");
            return 2;
        }
        output.WriteLine(ApiKeyRing.HashHex(key));
        error.WriteLine("Configure it as Auth:Keys:{n}:Sha256, with Auth:Keys:{n}:User = the user id (and Auth:Keys:{n}:Role = admin for operators).");
        return 0;
    }
}
