using Microsoft.Extensions.Options;

namespace Orleans.Search.Tests.Providers;

/// <summary>Limits that make no sense stop the service at start, naming the key, rather than at the first search.</summary>
public sealed class SearchOptionsValidationTests
{
    [Theory]
    [InlineData("Search:MaxResponseBytes", "0", "Search:MaxResponseBytes")]
    [InlineData("Search:MaxPauseSeconds", "-1", "Search:MaxPauseSeconds")]
    [InlineData("Search:Providers:local:MaxFileBytes", "0", "MaxFileBytes")]
    [InlineData("Search:Providers:local:MaxFiles", "-5", "MaxFiles")]
    public async Task A_nonsensical_limit_refuses_to_start(string key, string value, string named)
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["Search:Providers:local:Kind"] = "local",
            [key] = value,
        }));

        Assert.Contains(named, error.Message);
    }
}
