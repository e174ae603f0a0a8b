using System.Diagnostics;
using System.Globalization;
using System.Text;
using Orleans.Search.Providers;
using Orleans.Search.Providers.Code;

namespace Orleans.Search.Bench.CodeSearch;

/// <summary>
/// <c>--code-search</c>: the <c>code</c> provider over a generated folder of source-like files (50,000 by default),
/// with a <c>.gitignore</c>d folder and some binary files in it. Each search runs <c>--repeat</c> times after one
/// warm-up; the median and the spread go to bench/RESULTS-code-search.md and to its marked section of RESULTS.md.
/// </summary>
public static class CodeSearchBench
{
    public const string FileName = "RESULTS-code-search.md";
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private static readonly MarkedSection Results = new(FileName,
        "<!-- code-search-results:begin (written by --code-search from RESULTS-code-search.md; a full run keeps it) -->",
        "<!-- code-search-results:end -->");

    /// <summary>For <see cref="ResultsReport"/>: the marked section from bench/RESULTS-code-search.md, or nothing.</summary>
    public static string SectionFromFile() => Results.SectionFromFile();

    public static async Task<int> MainAsync(string[] args)
    {
        var files = IntAfter(args, "--files") ?? 50_000;
        var repeat = IntAfter(args, "--repeat") ?? 5;
        var root = Directory.CreateTempSubdirectory("code-search-bench-").FullName;
        try
        {
            var machine = MachineInfo.Capture();
            var generate = Stopwatch.StartNew();
            var (bytes, ignored, binary) = Generate(root, files);
            generate.Stop();
            Console.WriteLine(string.Create(Inv, $"generated {files} files ({bytes / 1024.0 / 1024.0:0.0} MB) in {generate.Elapsed.TotalSeconds:0.0} s"));

            var provider = new CodeSearchProvider("code", root, new SearchProviderOptions { Kind = "code", Path = root, MaxFiles = files * 2 });
            var walked = provider.CountSearchableFiles(CancellationToken.None);
            var rows = new List<Row>();
            foreach (var (label, query, page) in new (string, string, int)[]
            {
                ("literal found in one file (every file read)", "needle_4f1c9a", 1),
                ("literal on most lines, page 1 (stops at the first batch)", "return", 1),
                ("literal on most lines, page 10", "return", 10),
                ("regex, no match (every file read, non-backtracking)", @"/fn_\d+_[xyz]{3}q/", 1),
                ("regex, case-insensitive, rare", "/NEEDLE_4F1C9A/i", 1),
            })
            {
                rows.Add(await MeasureAsync(provider, label, query, page, repeat));
                Console.WriteLine($"{label}: {rows[^1].Cell}");
            }
            var walk = new List<double>();
            for (var i = 0; i <= repeat; i++)
            {
                var watch = Stopwatch.StartNew();
                _ = provider.CountSearchableFiles(CancellationToken.None);
                if (i > 0)
                {
                    walk.Add(watch.Elapsed.TotalMilliseconds);
                }
            }

            var md = new StringBuilder();
            void L(string line = "") => md.Append(line).Append('\n');
            L("# Orleans.Search `code` provider: search time on a 50,000-file folder");
            L();
            L(string.Create(Inv, $"Run {machine.At:yyyy-MM-dd HH:mm} UTC by `dotnet run -c Release --project bench/Orleans.Search.Bench -- --code-search --files {files} --repeat {repeat}`. Machine: {machine.Summary}."));
            L();
            L(string.Create(Inv, $"The folder: {files:N0} generated source-like files, {bytes / 1024.0 / 1024.0:0.0} MB, 40–120 lines each, in 500 folders; {ignored:N0} of them under a `.gitignore`d folder and {binary:N0} binary (a NUL byte) — {walked:N0} files are searched. The files were just written, so they are in the page cache: the figures are CPU and syscall cost, not disk reads. Each search is one `SearchAsync` call (a page of 20 hits, 2 context lines) run once to warm up, then {repeat} times: median (min–max)."));
            L();
            L("| search | time | hits on the page |");
            L("|---|---|---|");
            foreach (var row in rows)
            {
                L($"| {row.Label} (`{row.Query}`, page {row.Page}) | {row.Cell} | {row.Hits} |");
            }
            L(string.Create(Inv, $"| walking the folder only (`.gitignore` read at every level, no file opened) | {Stats.Median(walk):0} ms ({walk.Min():0}–{walk.Max():0}) | — |"));
            L();
            L(string.Create(Inv, $"What bounds it: a search that must read every file costs one read and one UTF-8 decode per file, spread over {Environment.ProcessorCount} cores in path-ordered batches of 512 files; files are read into pooled buffers and tested whole (a literal with vectorized `IndexOf`, a regex once with `^`/`$` at line ends on the non-backtracking engine); only files that pass are split into lines and allocate strings. A common term fills its page from the first batches and stops there. The folder walk is single-threaded (it keeps the order)."));
            var report = md.ToString();
            var bench = Path.Combine(Postgres.PostgresRun.RepositoryRoot(), "bench");
            await File.WriteAllTextAsync(Path.Combine(bench, FileName), report);
            Results.UpdateMainReport(Path.Combine(bench, "RESULTS.md"), report);
            Console.WriteLine(report);
            return 0;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task<Row> MeasureAsync(CodeSearchProvider provider, string label, string query, int page, int repeat)
    {
        var times = new List<double>();
        var hits = 0;
        for (var i = 0; i <= repeat; i++)
        {
            var watch = Stopwatch.StartNew();
            var result = await provider.SearchAsync(new ProviderQuery(query, page, 20), CancellationToken.None);
            watch.Stop();
            hits = result.Hits.Count;
            if (i > 0)
            {
                times.Add(watch.Elapsed.TotalMilliseconds);
            }
        }
        return new Row(label, query, page, string.Create(Inv, $"**{Stats.Median(times):0} ms** ({times.Min():0}–{times.Max():0})"), hits);
    }

    private sealed record Row(string Label, string Query, int Page, string Cell, int Hits);

    private static (long Bytes, int Ignored, int Binary) Generate(string root, int files)
    {
        File.WriteAllText(Path.Combine(root, ".gitignore"), "# generated\nvendor/\n*.min.js\n");
        long bytes = 0;
        int ignored = 0, binary = 0;
        var random = new Random(42);
        var text = new StringBuilder();
        for (var i = 0; i < files; i++)
        {
            var folder = i % 50 == 0 ? Path.Combine(root, "vendor", $"lib{i % 500:000}") : Path.Combine(root, $"pkg{i % 500:000}", $"mod{i % 7}");
            Directory.CreateDirectory(folder);
            var path = Path.Combine(folder, $"file{i:000000}.cs");
            if (folder.Contains("vendor", StringComparison.Ordinal))
            {
                ignored++;
            }
            if (i % 97 == 0)
            {
                var blob = new byte[4096];
                random.NextBytes(blob);
                blob[10] = 0;
                File.WriteAllBytes(path, blob);
                bytes += blob.Length;
                binary++;
                continue;
            }
            text.Clear();
            text.Append("namespace Generated.Pkg").Append(i % 500).Append(";\n\npublic static class File").Append(i).Append("\n{\n");
            var lines = random.Next(40, 120);
            for (var l = 0; l < lines; l++)
            {
                text.Append("    public static int fn_").Append(l).Append("_abc(int x) { return x * ").Append(random.Next(1000)).Append(" + ").Append(l).Append("; }\n");
            }
            if (i == files / 2 + 1)
            {
                text.Append("    // needle_4f1c9a: the one rare term\n");
            }
            text.Append("}\n");
            var content = Encoding.UTF8.GetBytes(text.ToString());
            File.WriteAllBytes(path, content);
            bytes += content.Length;
        }
        return (bytes, ignored, binary);
    }

    private static int? IntAfter(string[] args, string flag)
    {
        var at = Array.IndexOf(args, flag);
        return at >= 0 && at + 1 < args.Length && int.TryParse(args[at + 1], Inv, out var value) ? value : null;
    }
}
