using Orleans.Search.Caching;

namespace Orleans.Search.Tests.Providers;

/// <summary>The result cache key normalises a query only in ways that cannot change what it means to a provider.</summary>
public sealed class CacheKeyTests
{
    [Fact]
    public void Case_is_kept_because_it_can_be_syntax()
    {
        Assert.NotEqual(CacheKeys.For("web", "a AND b"), CacheKeys.For("web", "a and b"));
        Assert.NotEqual(CacheKeys.For("web", "Rust"), CacheKeys.For("web", "rust"));
    }

    [Fact]
    public void Surrounding_and_repeated_whitespace_does_not_make_a_query_different()
    {
        Assert.Equal(CacheKeys.For("web", "a b"), CacheKeys.For("web", "a  b"));
        Assert.Equal(CacheKeys.For("web", "a b"), CacheKeys.For("web", " a\t\nb  "));
    }

    [Fact]
    public void Canonically_equal_unicode_is_the_same_query()
    {
        // "é" precomposed and as e + combining acute accent.
        Assert.Equal(CacheKeys.For("web", "caf\u00e9"), CacheKeys.For("web", "cafe\u0301"));
        // Not normalisable (a lone surrogate): still a key, never an exception.
        Assert.NotEqual(CacheKeys.For("web", "\ud800 x"), CacheKeys.For("web", "x"));
    }

    [Fact]
    public void Provider_names_are_case_insensitive_and_providers_differ()
    {
        Assert.Equal(CacheKeys.For("web", "a"), CacheKeys.For("WEB", "a"));
        Assert.NotEqual(CacheKeys.For("web", "a"), CacheKeys.For("brave", "a"));
    }
}
