using System.Globalization;
using System.Runtime.InteropServices;

namespace Orleans.Search.Bench;

/// <summary>The machine the figures come from, and how busy it was.</summary>
public sealed record MachineInfo(int Cores, double MemoryGiB, string Cpu, string Os, string Runtime, string LoadAverage, IReadOnlyList<string> OtherTestRuns, DateTimeOffset At)
{
    public string Summary => string.Create(CultureInfo.InvariantCulture,
        $"{Cores} cores ({Cpu}), {MemoryGiB:0.#} GiB, {Os}, {Runtime}; load average {LoadAverage}; other test runs: {(OtherTestRuns.Count == 0 ? "none" : string.Join(" | ", OtherTestRuns))}");

    public static MachineInfo Capture() => new(
        Environment.ProcessorCount,
        TotalMemoryGiB(),
        Read("/proc/cpuinfo")?.Split('\n').FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? RuntimeInformation.ProcessArchitecture.ToString(),
        RuntimeInformation.OSDescription,
        RuntimeInformation.FrameworkDescription,
        string.Join(' ', (Read("/proc/loadavg") ?? "n/a").Split(' ').Take(3)),
        OtherTestProcesses(),
        DateTimeOffset.UtcNow);

    private static double TotalMemoryGiB()
    {
        var line = Read("/proc/meminfo")?.Split('\n').FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
        if (line is not null && long.TryParse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture, out var kib))
        {
            return kib / 1024.0 / 1024.0;
        }
        return GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 1024.0 / 1024.0 / 1024.0;
    }

    /// <summary>Like <c>pgrep -fa 'dotnet test|testhost'</c>: other engineers' test runs compete for the same cores.</summary>
    private static List<string> OtherTestProcesses()
    {
        var found = new List<string>();
        if (!Directory.Exists("/proc"))
        {
            return found;
        }
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }
            var cmdline = Read(Path.Combine(dir, "cmdline"))?.Replace('\0', ' ').Trim();
            if (cmdline is { Length: > 0 } && (cmdline.Contains("dotnet test", StringComparison.Ordinal) || cmdline.Contains("testhost", StringComparison.Ordinal)))
            {
                found.Add($"{pid}: {(cmdline.Length > 80 ? cmdline[..80] + "…" : cmdline)}");
            }
        }
        return found;
    }

    private static string? Read(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
