using System.Net;
using System.Text;
using Orleans.Search.Fakes.Hostile;

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
        var response = await SendRawAsync(head, new HostileBody("{\"queries\":[", "\"\",", 64 * 1024 / 3));

        AssertTooLarge(response);
    }

    [Fact]
    public async Task A_chunked_body_that_grows_past_the_limit_is_413()
    {
        // No length is declared: the body is chunked and stops, unfinished, 64 KB past the limit. The gateway must
        // notice the limit while reading, not wait for the end (which never comes).
        const string head = "POST /api/search-jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked";
        // The chunk framing is written here, not by the client, so the last chunk is never sent.
        const int ChunkBytes = 16 * 1024;
        var body = new HostileBody(Chunk("{\"query\":\""), Chunk(new string('a', ChunkBytes)), (MaxBodyBytes + 64 * 1024) / ChunkBytes + 1)
        {
            Framing = HostileFraming.AsGiven,
        };
        var response = await SendRawAsync(head, body);

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

    /// <summary>Sends <paramref name="head"/> (request line and headers) and <paramref name="body"/> on a bare socket; the whole
    /// answer must come within <see cref="AnswerWithin"/>.</summary>
    private async Task<RawHttpResponse> SendRawAsync(string head, HostileBody body)
    {
        var gateway = fixture.Gateway.BaseAddress;
        var outcome = await RawHttp.SendAsync(new IPEndPoint(IPAddress.Parse(gateway.Host), gateway.Port), null,
            Encoding.ASCII.GetBytes(head + "\r\n\r\n"), body, AnswerWithin, AnswerWithin);
        Assert.True(outcome.Response is { BodyComplete: true }, $"no whole answer: {outcome.Failure ?? "the body was cut short"}");
        return outcome.Response;
    }

    private static string Chunk(string data) => $"{Encoding.UTF8.GetByteCount(data):x}\r\n{data}\r\n";

    private static void AssertTooLarge(RawHttpResponse response)
    {
        Assert.True(response.Status == 413, $"expected 413, got {response.Status}: {response.Body}");
        Assert.StartsWith("application/problem+json", response.Header("Content-Type"), StringComparison.Ordinal);
        Assert.Contains("262144", response.Body, StringComparison.Ordinal);
    }
}
