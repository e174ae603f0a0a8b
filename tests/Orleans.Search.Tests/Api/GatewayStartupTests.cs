namespace Orleans.Search.Tests.Api;

/// <summary>The gateway program as an operator runs it: configurations it must refuse to start with, and the hash-key command.</summary>
public sealed class GatewayStartupTests
{
    public static TheoryData<string, string> NonLoopbackListens() => new()
    {
        { "--urls", "http://0.0.0.0:{port}" },
        { "--urls", "http://*:{port}" },
        { "--urls", "http://+:{port}" },
        { "--urls", "http://[::]:{port}" },
        { "--urls", "http://127.0.0.1:{other};http://0.0.0.0:{port}" },
        { "ASPNETCORE_HTTP_PORTS", "{port}" },
    };

    [Theory]
    [MemberData(nameof(NonLoopbackListens))]
    public async Task Without_keys_a_gateway_listening_beyond_loopback_refuses_to_start(string how, string urls)
    {
        var port = Loopback.FreePort();
        var value = urls.Replace("{port}", port.ToString()).Replace("{other}", Loopback.FreePort().ToString());
        var result = how == "--urls"
            ? await GatewayCommand.RunAsync(["--urls", value], httpPort: port)
            : await GatewayCommand.RunAsync([], new Dictionary<string, string> { [how] = value, ["ASPNETCORE_URLS"] = "" }, httpPort: port);

        Assert.True(result.ExitCode is { } code && code != 0, result.ToString());
        Assert.Contains("Auth:Mode", result.All, StringComparison.Ordinal);
        Assert.Contains("loopback", result.All, StringComparison.Ordinal);
        Assert.Contains("Auth:Keys", result.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_old_plain_text_ApiKeys_section_refuses_to_start_and_says_how_to_migrate()
    {
        var port = Loopback.FreePort();
        var result = await GatewayCommand.RunAsync(["--urls", $"http://127.0.0.1:{port}"],
            new Dictionary<string, string> { ["Auth:ApiKeys:sekrit-key-of-alice"] = "alice" }, httpPort: port);

        Assert.True(result.ExitCode is { } code && code != 0, result.ToString());
        Assert.Contains("Auth:ApiKeys", result.All, StringComparison.Ordinal);
        Assert.Contains("hash-key", result.All, StringComparison.Ordinal);
        Assert.Contains("Auth:Keys:{n}:Sha256", result.All, StringComparison.Ordinal);
        Assert.DoesNotContain("sekrit", result.All, StringComparison.Ordinal);
    }

    public static TheoryData<string, Dictionary<string, string>, string> BadKeyConfigurations() => new()
    {
        { "keys mode without keys", new() { ["Auth:Mode"] = "keys" }, "Auth:Keys" },
        { "unknown mode", new() { ["Auth:Mode"] = "open" }, "Auth:Mode" },
        { "hash not hex", new() { ["Auth:Keys:0:Sha256"] = "not-a-hash", ["Auth:Keys:0:User"] = "alice" }, "Auth:Keys:0:Sha256" },
        { "no user", new() { ["Auth:Keys:0:Sha256"] = TestKeys.Sha256("k") }, "Auth:Keys:0:User" },
        { "unknown role", new() { ["Auth:Keys:0:Sha256"] = TestKeys.Sha256("k"), ["Auth:Keys:0:User"] = "alice", ["Auth:Keys:0:Role"] = "root" }, "Auth:Keys:0:Role" },
        {
            "one key twice", new()
            {
                ["Auth:Keys:0:Sha256"] = TestKeys.Sha256("k"), ["Auth:Keys:0:User"] = "alice",
                ["Auth:Keys:1:Sha256"] = TestKeys.Sha256("k").ToUpperInvariant(), ["Auth:Keys:1:User"] = "bob",
            },
            "Auth:Keys:1:Sha256"
        },
    };

    [Theory]
    [MemberData(nameof(BadKeyConfigurations))]
    public async Task A_bad_key_configuration_refuses_to_start_naming_the_key(string name, Dictionary<string, string> settings, string named)
    {
        var port = Loopback.FreePort();
        var result = await GatewayCommand.RunAsync(["--urls", $"http://127.0.0.1:{port}"], settings, httpPort: port);

        Assert.True(result.ExitCode is { } code && code != 0, $"{name}: {result}");
        Assert.Contains(named, result.All, StringComparison.Ordinal);
    }

    public static TheoryData<string, string, string> BadOptionValues() => new()
    {
        { "Search:Providers:local:TimeoutSeconds", "0", "more than 0" },
        { "Search:Providers:local:MaxAttempts", "0", "at least 1" },
        { "Search:Providers:local:BreakerFailureRatio", "2", "from 0.01 to 1" },
        { "Search:MaxResponseBytes", "-5", "positive" },
        { "Limits:User:Burst", "0", "at least 1" },
        { "Limits:User:MaxActiveJobs", "-1", "0 (no limit) or more" },
        { "Jobs:EventTailLength", "3", "at least 10" },
        { "Jobs:RetentionHours", "-1", "0 or more" },
        { "Search:Cache:Ttl", "00:00:00", "positive" },
    };

    [Theory]
    [MemberData(nameof(BadOptionValues))]
    public async Task A_bad_option_value_refuses_to_start_naming_the_key_and_the_rule(string key, string value, string rule)
    {
        var port = Loopback.FreePort();
        var settings = new Dictionary<string, string> { [key] = value };
        if (key.StartsWith("Search:Providers:local:", StringComparison.Ordinal))
        {
            settings["Search:Providers:local:Kind"] = "local";
        }
        var result = await GatewayCommand.RunAsync(["--urls", $"http://127.0.0.1:{port}"], settings, httpPort: port);

        Assert.True(result.ExitCode is { } code && code != 0, $"{key}={value}: {result}");
        Assert.Contains($"{key} must be {rule}; it is ", result.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Hash_key_prints_the_sha256_of_the_key_read_from_stdin_and_starts_nothing()
    {
        var port = Loopback.FreePort();
        var result = await GatewayCommand.RunAsync(["hash-key"], new Dictionary<string, string> { ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}" },
            stdin: "correct horse battery staple\n", httpPort: port);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(TestKeys.Sha256("correct horse battery staple"), result.Output.Trim());
    }

    [Fact]
    public async Task Hash_key_without_a_key_fails()
    {
        var port = Loopback.FreePort();
        var result = await GatewayCommand.RunAsync(["hash-key"], new Dictionary<string, string> { ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}" },
            stdin: "\n", httpPort: port);

        Assert.True(result.ExitCode is { } code && code != 0, result.ToString());
        Assert.Equal("", result.Output.Trim());
        Assert.Contains("key", result.Error, StringComparison.Ordinal);
    }
}
