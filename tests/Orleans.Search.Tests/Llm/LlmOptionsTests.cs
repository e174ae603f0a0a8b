using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Search.Llm;

namespace Orleans.Search.Tests.Llm;

/// <summary>The <c>Llm</c> section is checked at start, and each problem names its key.</summary>
public sealed class LlmOptionsTests
{
    private static OptionsValidationException Invalid(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        using var services = new ServiceCollection().AddLogging().AddLanguageModels(configuration).BuildServiceProvider();
        return Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<LlmOptions>>().Value);
    }

    [Fact]
    public void Each_bad_key_is_named()
    {
        var error = Invalid(new()
        {
            ["Llm:DefaultProvider"] = "missing",
            ["Llm:Providers:ds:Kind"] = "anthropic",
            ["Llm:Providers:ds:BaseUrl"] = "ftp://api.deepseek.com",
            ["Llm:Providers:ds:RequestsPerMinute"] = "-1",
            ["Llm:Providers:ds:TokensPerMinute"] = "-5",
            ["Llm:Providers:ds:MaxConcurrency"] = "-2",
            ["Llm:Providers:ds:TimeoutSeconds"] = "0",
            ["Llm:Prices:deepseek-flash:OutputPerMillion"] = "-0.6",
        });

        Assert.Contains("Llm:DefaultProvider", error.Message);
        Assert.Contains("Llm:Providers:ds:Kind", error.Message);
        Assert.Contains("Llm:Providers:ds:BaseUrl", error.Message);
        Assert.Contains("Llm:Providers:ds:Model", error.Message);
        Assert.Contains("Llm:Providers:ds:RequestsPerMinute", error.Message);
        Assert.Contains("Llm:Providers:ds:TokensPerMinute", error.Message);
        Assert.Contains("Llm:Providers:ds:MaxConcurrency", error.Message);
        Assert.Contains("Llm:Providers:ds:TimeoutSeconds", error.Message);
        Assert.Contains("Llm:Prices:deepseek-flash", error.Message);
    }

    [Fact]
    public void A_valid_section_binds_and_no_section_means_no_providers()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Llm:DefaultProvider"] = "deepseek",
            ["Llm:Providers:deepseek:Kind"] = "openai",
            ["Llm:Providers:deepseek:BaseUrl"] = "https://api.deepseek.com",
            ["Llm:Providers:deepseek:Model"] = "deepseek-flash",
            ["Llm:Providers:deepseek:TokensPerMinute"] = "100000",
            ["Llm:Prices:deepseek-flash:InputPerMillion"] = "0.15",
        }).Build();
        using var services = new ServiceCollection().AddLogging().AddLanguageModels(configuration).BuildServiceProvider();
        var options = services.GetRequiredService<IOptions<LlmOptions>>().Value;
        Assert.Equal("deepseek-flash", options.Providers["DeepSeek"].Model);
        Assert.Equal(0.15m, options.Prices["deepseek-flash"].InputPerMillion);

        using var empty = new ServiceCollection().AddLogging().AddLanguageModels(new ConfigurationBuilder().Build()).BuildServiceProvider();
        Assert.Empty(empty.GetRequiredService<IOptions<LlmOptions>>().Value.Providers);
    }
}
