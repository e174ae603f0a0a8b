using Orleans.Search.Fakes.Providers;
using Orleans.Search.Providers;

namespace Orleans.Search.Tests.Providers.Http;

/// <summary>One provider adapter from the real registration, pointed at its loopback fake with the fake's valid key.</summary>
public abstract class HttpProviderTestBase<TFake>(string kind, Func<Task<TFake>> start) : IAsyncLifetime
    where TFake : FakeProviderServer
{
    protected TFake Fake { get; private set; } = null!;

    protected ProviderServices Services { get; private set; } = null!;

    protected ISearchProvider Provider => Services.Provider(kind);

    public async Task InitializeAsync()
    {
        Fake = await start();
        Services = Create(FakeProviderServer.ValidKey);
    }

    protected ProviderServices Create(string? key, int pageSize = 10) => ProviderServices.Create(new Dictionary<string, string?>
    {
        [$"Search:Providers:{kind}:Kind"] = kind,
        [$"Search:Providers:{kind}:BaseUrl"] = Fake.BaseUrl.ToString(),
        [$"Search:Providers:{kind}:ApiKey"] = key,
        [$"Search:Providers:{kind}:PageSize"] = pageSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
    });

    public async Task DisposeAsync()
    {
        await Services.DisposeAsync();
        await Fake.DisposeAsync();
    }

    protected Task<ProviderPage> SearchAsync(string query, int page = 1, int pageSize = 10) =>
        Provider.SearchAsync(new ProviderQuery(query, page, pageSize), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));

    protected Task<ProviderException> FailsAsync(string query, FakeProviderFault fault)
    {
        Fake.FailNext(fault);
        return Assert.ThrowsAsync<ProviderException>(() => SearchAsync(query));
    }

    /// <summary>Page <paramref name="page"/> of 10 holds results 10(p−1)+1 … 10p, mapped field by field.</summary>
    protected static void AssertPage(ProviderPage result, string query, int page, int pageSize = 10)
    {
        Assert.Equal(200, result.StatusCode);
        Assert.Equal(pageSize, result.Hits.Count);
        for (var i = 0; i < pageSize; i++)
        {
            var n = (page - 1) * pageSize + i + 1;
            Assert.Equal(FakeProviderServer.ResultUrl(query, n), result.Hits[i].Url);
            Assert.Equal(FakeProviderServer.ResultTitle(query, n), result.Hits[i].Title);
            Assert.Equal(FakeProviderServer.ResultSnippet(query, n), result.Hits[i].Snippet);
        }
    }

    protected async Task A_missing_key_is_refused_before_any_call()
    {
        await using var keyless = Create(null);
        var error = Assert.Throws<ProviderException>(() => keyless.Provider(kind));
        Assert.Contains($"Search:Providers:{kind}:ApiKey", error.Message);
        Assert.Empty(Fake.Requests);
    }
}
