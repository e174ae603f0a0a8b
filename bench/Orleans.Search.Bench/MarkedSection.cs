using System.Globalization;
using System.Text;

namespace Orleans.Search.Bench;

/// <summary>
/// A report that lives in its own file (bench/<see cref="FileName"/>) and is copied into bench/RESULTS.md between
/// <see cref="Begin"/> and <see cref="End"/>, every heading one level down, so a full run can keep it.
/// </summary>
public sealed record MarkedSection(string FileName, string Begin, string End)
{
    /// <summary>Replaces (or appends) the marked section in RESULTS.md, if that file exists.</summary>
    public void UpdateMainReport(string resultsPath, string report)
    {
        if (!File.Exists(resultsPath))
        {
            return;
        }
        var text = StripSection(File.ReadAllText(resultsPath));
        File.WriteAllText(resultsPath, text.TrimEnd('\n') + "\n" + Section(report));
    }

    /// <summary>The marked section from bench/<see cref="FileName"/>, or nothing if there is no such file.</summary>
    public string SectionFromFile()
    {
        var path = Path.Combine(Postgres.PostgresRun.RepositoryRoot(), "bench", FileName);
        return File.Exists(path) ? Section(File.ReadAllText(path)) : "";
    }

    private string StripSection(string text)
    {
        var begin = text.IndexOf(Begin, StringComparison.Ordinal);
        var end = text.IndexOf(End, StringComparison.Ordinal);
        return begin >= 0 && end > begin ? text[..begin] + text[(end + End.Length)..].TrimStart('\n') : text;
    }

    /// <summary>The report with every heading one level down, between the markers.</summary>
    private string Section(string report)
    {
        var md = new StringBuilder();
        md.Append('\n').Append(Begin).Append('\n');
        foreach (var line in report.TrimEnd('\n').Split('\n'))
        {
            md.Append(line.StartsWith('#') ? "#" + line : line).Append('\n');
        }
        md.Append('\n').Append(string.Create(CultureInfo.InvariantCulture, $"(Copied from [{FileName}]({FileName}).)")).Append('\n').Append(End).Append('\n');
        return md.ToString();
    }
}
