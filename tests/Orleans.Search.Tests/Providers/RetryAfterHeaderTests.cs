using System.Net;
using Microsoft.Extensions.Time.Testing;
using Orleans.Search.Providers;

namespace Orleans.Search.Tests.Providers;

/// <summary>
/// How long a provider asks us to wait, read from its headers: clamped to <c>Search:MaxPauseSeconds</c> (300 s by
/// default), never negative, with epoch forms of the reset headers read as instants.
/// </summary>
public sealed class RetryAfterHeaderTests
{
    /// <summary>2025-12-02T18:26:10Z; the epoch 1764700000 is 30 s later.</summary>
    private static readonly FakeTimeProvider Clock = new(DateTimeOffset.FromUnixTimeSeconds(1_764_699_970));

    public static TheoryData<string, string, double?> Headers() => new()
    {
        { "Retry-After", "120", 120 },
        { "Retry-After", "0", 0 },
        { "Retry-After", "1.5", 1.5 },
        { "Retry-After", "-5", 0 },
        { "Retry-After", "300", 300 },
        { "Retry-After", "301", 300 },
        { "Retry-After", "31536000", 300 },
        { "Retry-After", "99999999999999999999999", 300 },
        { "Retry-After", "Tue, 02 Dec 2025 18:26:40 GMT", 30 },
        { "Retry-After", "Tuesday, 02-Dec-25 18:26:40 GMT", 30 },
        { "Retry-After", "Tue Dec  2 18:26:40 2025", 30 },
        { "Retry-After", "Tue, 02 Dec 2025 18:00:00 GMT", 0 },
        { "Retry-After", "Fri, 31 Dec 9999 23:59:59 GMT", 300 },
        { "Retry-After", "soon", null },
        { "RateLimit-Reset", "2.5", 2.5 },
        { "X-RateLimit-Reset", "4", 4 },
        { "X-RateLimit-Reset", "1419704", 300 },
        { "X-RateLimit-Reset", "1, 1419704", 1 },
        { "X-RateLimit-Reset", "1764700000", 30 },
        { "RateLimit-Reset", "1764700000", 30 },
        { "X-RateLimit-Reset", "1764700000000", 30 },
        { "X-RateLimit-Reset", "1764700000250", 30.25 },
        { "X-RateLimit-Reset", "1764699000", 0 },
        { "X-RateLimit-Reset", "1764699000000", 0 },
        { "X-RateLimit-Reset", "1864700000", 300 },
        { "X-RateLimit-Reset", "99999999999999999999", 300 },
        { "X-RateLimit-Reset", "NaN", null },
        { "X-RateLimit-Reset", "Infinity", null },
        { "X-RateLimit-Reset", "later", null },
    };

    [Theory]
    [MemberData(nameof(Headers))]
    public void Each_header_form_is_read_clamped_to_MaxPauseSeconds(string header, string value, double? expectedSeconds)
    {
        using var response = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
        response.Headers.TryAddWithoutValidation(header, value);

        var wait = ProviderHeaders.RetryAfter(response, TimeSpan.FromSeconds(300), Clock);

        Assert.Equal(expectedSeconds, wait?.TotalSeconds);
    }

    [Fact]
    public void The_clamp_is_the_configured_one()
    {
        using var response = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
        response.Headers.TryAddWithoutValidation("Retry-After", "120");

        Assert.Equal(TimeSpan.FromSeconds(60), ProviderHeaders.RetryAfter(response, TimeSpan.FromSeconds(60), Clock));
    }

    [Fact]
    public void Retry_After_wins_over_a_reset_header_and_no_header_means_no_wait()
    {
        using var both = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
        both.Headers.TryAddWithoutValidation("Retry-After", "7");
        both.Headers.TryAddWithoutValidation("X-RateLimit-Reset", "1764700000");
        Assert.Equal(TimeSpan.FromSeconds(7), ProviderHeaders.RetryAfter(both, TimeSpan.FromSeconds(300), Clock));

        using var none = new HttpResponseMessage(HttpStatusCode.ServiceUnavailable);
        Assert.Null(ProviderHeaders.RetryAfter(none, TimeSpan.FromSeconds(300), Clock));
    }
}
