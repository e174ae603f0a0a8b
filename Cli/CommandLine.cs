using System.Globalization;

namespace Orleans.Search.Cli;

/// <summary>A usage error: the command line is wrong; exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>
/// A parsed command line: the command, its positional arguments, options with values and flags. Small on purpose: the
/// tool has five commands and a handful of options, so each command states what it accepts.
/// </summary>
public sealed class CommandLine
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flags = new(StringComparer.Ordinal);

    public string? Command { get; private init; }

    public IReadOnlyList<string> Arguments { get; private init; } = [];

    /// <param name="valueOptions">Options that take a value (<c>--pages 3</c> or <c>--pages=3</c>).</param>
    /// <param name="flagOptions">Options that take none (<c>--json</c>).</param>
    public static CommandLine Parse(IReadOnlyList<string> args, ISet<string> valueOptions, ISet<string> flagOptions)
    {
        var positional = new List<string>();
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var flags = new HashSet<string>(StringComparer.Ordinal);
        var onlyPositional = false;
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (onlyPositional || !arg.StartsWith('-') || arg == "-")
            {
                positional.Add(arg);
                continue;
            }
            if (arg == "--")
            {
                onlyPositional = true;
                continue;
            }
            var name = arg;
            string? value = null;
            var equals = arg.IndexOf('=');
            if (arg.StartsWith("--", StringComparison.Ordinal) && equals > 0)
            {
                name = arg[..equals];
                value = arg[(equals + 1)..];
            }
            if (name == "-h")
            {
                name = "--help";
            }
            if (flagOptions.Contains(name))
            {
                if (value is not null)
                {
                    throw new UsageException($"Option '{name}' takes no value.");
                }
                flags.Add(name);
            }
            else if (valueOptions.Contains(name))
            {
                if (value is null)
                {
                    if (i + 1 >= args.Count)
                    {
                        throw new UsageException($"Option '{name}' needs a value.");
                    }
                    value = args[++i];
                }
                if (values.ContainsKey(name))
                {
                    throw new UsageException($"Option '{name}' is given twice.");
                }
                values[name] = value;
            }
            else
            {
                throw new UsageException($"Unknown option '{name}'.");
            }
        }
        var line = new CommandLine { Command = positional.Count > 0 ? positional[0] : null, Arguments = positional.Skip(1).ToList() };
        foreach (var (key, value) in values)
        {
            line._values[key] = value;
        }
        line._flags.UnionWith(flags);
        return line;
    }

    public bool Has(string flag) => _flags.Contains(flag);

    public string? Value(string option) => _values.GetValueOrDefault(option);

    /// <summary>An option's whole-number value within bounds, or null when absent.</summary>
    public int? Int(string option, int min, int max)
    {
        if (Value(option) is not { } text)
        {
            return null;
        }
        if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new UsageException($"Option '{option}' must be a whole number from {min} to {max}; it is '{text}'.");
        }
        return value;
    }

    /// <summary>Fails unless exactly <paramref name="count"/> positional arguments follow the command.</summary>
    public void Expect(int count, string what)
    {
        if (Arguments.Count != count)
        {
            throw new UsageException(Arguments.Count < count
                ? $"'{Command}' needs {what}."
                : $"'{Command}' takes only {what}; unexpected '{Arguments[count]}'.");
        }
    }
}
