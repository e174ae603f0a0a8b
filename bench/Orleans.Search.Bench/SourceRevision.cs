using System.Diagnostics;

namespace Orleans.Search.Bench;

/// <summary>
/// The code a run measured: the commit checked out and whether the working tree differed from it (figures from a
/// dirty tree may come from code no commit holds, so the report names the changed paths).
/// </summary>
public sealed record SourceRevision(string Commit, bool? Dirty, IReadOnlyList<string> ChangedPaths)
{
    private const int PathsShown = 8;

    /// <summary>One line for a report: the commit, and "clean" or the changed paths (as <c>git status --porcelain</c> lists them).</summary>
    public string Describe()
    {
        var commit = $"`{Commit}`";
        return Dirty switch
        {
            false => $"{commit}, working tree clean",
            true => $"{commit}, working tree **dirty** ({ChangedPaths.Count} changed or untracked path{(ChangedPaths.Count == 1 ? "" : "s")}: "
                + string.Join(", ", ChangedPaths.Take(PathsShown).Select(p => $"`{p}`"))
                + (ChangedPaths.Count > PathsShown ? ", …" : "") + ")",
            null => $"{commit}, working tree state unknown (git status failed)",
        };
    }

    /// <summary>Asks git in <paramref name="repositoryRoot"/>; never throws (a run without git still reports, saying so).</summary>
    public static SourceRevision Capture(string repositoryRoot)
    {
        var head = Git(repositoryRoot, "rev-parse", "HEAD");
        var status = Git(repositoryRoot, "status", "--porcelain", "--untracked-files=normal");
        var paths = status?.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList() ?? [];
        return new SourceRevision(head?.Trim() is { Length: > 0 } h ? h : "unknown (git rev-parse HEAD failed)", status is null ? null : paths.Count > 0, paths);
    }

    private static string? Git(string workingDirectory, params string[] arguments)
    {
        try
        {
            var start = new ProcessStartInfo("git")
            {
                WorkingDirectory = workingDirectory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }
            using var process = Process.Start(start);
            if (process is null)
            {
                return null;
            }
            var output = process.StandardOutput.ReadToEndAsync();
            _ = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                process.Kill();
                return null;
            }
            return process.ExitCode == 0 ? output.GetAwaiter().GetResult() : null;
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
        {
            return null;
        }
    }
}
