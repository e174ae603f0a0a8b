using System.Net;
using System.Text;

namespace Orleans.Search.Tests.Api;

/// <summary>What the gateway does with bodies too big to read and requests for a host it does not serve.</summary>
[Collection(OpenGatewayCollection.Name)]
public sealed class FrontDoorTests(OpenGatewayFixture fixture)
{
    private const int MaxBodyBytes = 256 * 1024;

    private static readonly TimeSpan AnswerWithin = TimeSpan.FromSeconds(30);

    private HttpClient Http => fixture.Http;

    [Theory]
    [InlineData("/api/search-jobs")]
    [InlineData("/api/search")]
    public async Task A_body_declared_larger_than_the_limit_is_413_before_it_is_sent(string path)
    {
        // 27 MB of {"queries":["","",…]} is declared; only the first 64 KB is ever sent, so only a gateway that
        // refuses on the declared length answers at all.
        var head = $"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {27 * 1024 * 1024}";
        var response = await RawHttp.SendAsync(fixture.Gateway.BaseAddress, head, (stream, ct) =>
            stream.WriteAsync(Encoding.ASCII.GetBytes("{\"queries\":[" + string.Concat(Enumerable.Repeat("\"\",", 64 * 1024 / 3))), ct).AsTask(), AnswerWithin);

        AssertTooLarge(response);
    }

    [Fact]
    public async Task A_chunked_body_that_grows_past_the_limit_is_413()
    {
        // No length is declared: the body is chunked and stops, unfinished, 64 KB past the limit. The gateway must
        // notice the limit while reading, not wait for the end (which never comes).
        const string head = "POST /api/search-jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked";
        var response = await RawHttp.SendAsync(fixture.Gateway.BaseAddress, head, async (stream, ct) =>
        {
            await RawHttp.WriteChunkAsync(stream, "{\"query\":\""u8.ToArray(), ct);
            var chunk = Encoding.ASCII.GetBytes(new string('a', 16 * 1024));
            for (var sent = 0; sent <= MaxBodyBytes + 64 * 1024; sent += chunk.Length)
            {
                await RawHttp.WriteChunkAsync(stream, chunk, ct);
            }
        }, AnswerWithin);

        AssertTooLarge(response);
    }

    [Fact]
    public async Task A_body_just_under_the_limit_is_read()
    {
        var query = TestJobs.UniqueQueries("just-under", 1)[0];
        var spec = $"{{\"query\":\"{query}\"";
        var body = spec + new string(' ', MaxBodyBytes - spec.Length - 1) + "}";
        Assert.Equal(MaxBodyBytes, Encoding.UTF8.GetByteCount(body));

        using var response = await GatewayApi.PostAsync(Http, "/api/search-jobs", body);

        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        await GatewayApi.WaitForEndAsync(Http, (await GatewayApi.ReadJobAsync(response)).JobId);
    }

    [Theory]
    [InlineData("evil.example")]
    [InlineData("evil.example:5080")]
    [InlineData("localhost.evil.example")]
    [InlineData("127.0.0.1.nip.io")]
    public async Task A_request_for_a_host_not_allowed_is_400_naming_the_Host_header(string host)
    {
        foreach (var path in new[] { "/api/search-jobs", "/healthz" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Host = host;
            using var response = await Http.SendAsync(request);

            var problem = await GatewayApi.AssertInvalidFieldAsync(response, "Host");
            Assert.Contains("AllowedHosts", problem.Detail, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("127.0.0.1")]
    [InlineData("[::1]")]
    public async Task Loopback_host_names_are_allowed_by_default(string host)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/healthz");
        request.Headers.Host = $"{host}:{fixture.Gateway.BaseAddress.Port}";
        using var response = await Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private static void AssertTooLarge(RawResponse response)
    {
        Assert.True(response.Status == 413, $"expected 413, got {response.Status}: {response.Body}");
        Assert.StartsWith("application/problem+json", response.Header("Content-Type"), StringComparison.Ordinal);
        Assert.Contains("262144", response.Body, StringComparison.Ordinal);
    }
}
