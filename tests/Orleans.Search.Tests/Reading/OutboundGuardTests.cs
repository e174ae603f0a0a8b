using System.Net;
using Orleans.Search.Fakes;
using Orleans.Search.Net;

namespace Orleans.Search.Tests.Reading;

/// <summary>
/// The outbound guard refuses before any connection is made: each refused URL points at a listener on loopback that
/// counts accepted connections (127.0.0.1, 127.0.0.2, ::1), and the guard's own count of connections opened stays 0.
/// 127.0.0.1 itself is allow-listed (the fakes live there), so a URL that reaches it by another spelling must still be refused.
/// </summary>
public sealed class OutboundGuardTests : IAsyncLifetime
{
    private readonly AcceptCounter _loopback = new(IPAddress.Loopback);
    private readonly AcceptCounter _loopback2 = new(IPAddress.Parse("127.0.0.2"));
    private readonly AcceptCounter _loopback6 = new(IPAddress.IPv6Loopback);
    private ReadingServices _services = null!;
    private FakeSite _site = null!;

    public async Task InitializeAsync()
    {
        _services = ReadingServices.Create(names: new Dictionary<string, IPAddress[]>
        {
            ["internal.test"] = [IPAddress.Parse("10.20.30.40")],
            ["sneaky.test"] = [IPAddress.Parse("127.0.0.2")],
            ["mixed.test"] = [IPAddress.Parse("93.184.216.34"), IPAddress.Parse("127.0.0.2")],
            ["public.test"] = [IPAddress.Parse("93.184.216.34")],
        });
        _site = await FakeSite.StartAsync();
        _site.Serve("/ok", FakeSitePage.Text("fine"));
    }

    public async Task DisposeAsync()
    {
        await _site.DisposeAsync();
        await _services.DisposeAsync();
        _loopback.Dispose();
        _loopback2.Dispose();
        _loopback6.Dispose();
    }

    private int Accepted => _loopback.Accepted + _loopback2.Accepted + _loopback6.Accepted;

    public static TheoryData<string> RefusedUrls() =>
    [
        "http://127.0.0.2:{P2}/",
        "http://10.0.0.1/",
        "http://10.255.1.2:8080/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{P6}/",
        "http://[::ffff:127.0.0.1]:{P1}/",
        "http://[::ffff:7f00:1]:{P1}/",
        "http://0.0.0.0:{P1}/",
        "http://2130706433:{P1}/",
        "http://0177.0.0.1:{P1}/",
        "http://0x7f.0.0.1:{P1}/",
        "http://127.1:{P1}/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[fc00::1]/",
        "http://[fe80::1]/",
        "http://100.64.0.1/",
        "http://192.168.1.1/",
        "http://172.16.0.1/",
        "http://224.0.0.1/",
        "http://internal.test/",
        "http://sneaky.test:{P2}/",
        "http://mixed.test:{P2}/",
        "http://localhost:{P1}/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:{P1}/_GET",
        "ftp://127.0.0.1:{P1}/",
    ];

    private string Fill(string url) => url.Replace("{P1}", _loopback.Port.ToString()).Replace("{P2}", _loopback2.Port.ToString()).Replace("{P6}", _loopback6.Port.ToString());

    [Theory]
    [MemberData(nameof(RefusedUrls))]
    public async Task A_refused_url_is_refused_before_any_connection(string template)
    {
        var url = Fill(template);

        var refused = await Assert.ThrowsAsync<OutboundRefusedException>(() =>
            _services.Guard.SendAsync(new Uri(url), u => new HttpRequestMessage(HttpMethod.Get, u), OutboundGuard.MaxRedirects, CancellationToken.None));
        var atRegistration = await _services.Guard.CheckAsync(url, CancellationToken.None);

        Assert.False(string.IsNullOrEmpty(refused.Reason));
        Assert.NotNull(atRegistration);
        Assert.Equal(0, _services.Guard.ConnectionsOpened);
        Assert.Equal(0, Accepted);
    }

    [Fact]
    public async Task An_allowed_host_is_reached_and_counted()
    {
        using var response = await _services.Guard.SendAsync(new Uri(_site.Url("/ok")), u => new HttpRequestMessage(HttpMethod.Get, u), 5, CancellationToken.None);

        Assert.Equal(HttpStatusCode.OK, response.Response.StatusCode);
        Assert.Equal("fine", await response.Response.Content.ReadAsStringAsync());
        Assert.True(_services.Guard.ConnectionsOpened >= 1);
        Assert.Null(await _services.Guard.CheckAsync(_site.Url("/ok"), CancellationToken.None));
        Assert.Null(await _services.Guard.CheckAsync("https://public.test/hook", CancellationToken.None));
    }

    [Theory]
    [InlineData("http://127.0.0.2:{P2}/secret")]
    [InlineData("http://localhost:{P1}/secret")]
    [InlineData("http://[::1]:{P6}/secret")]
    [InlineData("http://sneaky.test:{P2}/secret")]
    [InlineData("file:///etc/passwd")]
    public async Task A_redirect_from_an_allowed_host_to_a_refused_one_is_refused_before_connecting(string template)
    {
        _site.Serve("/go", FakeSitePage.Redirect(Fill(template)));
        var opened = 0L;

        var refused = await Assert.ThrowsAsync<OutboundRefusedException>(async () =>
        {
            try
            {
                await _services.Guard.SendAsync(new Uri(_site.Url("/go")), u => new HttpRequestMessage(HttpMethod.Get, u), 5, CancellationToken.None);
            }
            finally
            {
                opened = _services.Guard.ConnectionsOpened;
            }
        });

        Assert.Equal(1, _site.RequestsFor("/go"));
        Assert.Equal(1, opened);
        Assert.Equal(0, Accepted);
        Assert.Contains("/secret", refused.Url.AbsoluteUri.Replace("file:///etc/passwd", "/secret"));
    }

    [Fact]
    public async Task Redirects_are_followed_up_to_five_and_the_sixth_is_returned()
    {
        for (var i = 0; i < 6; i++)
        {
            _site.Serve($"/hop{i}", FakeSitePage.Redirect($"/hop{i + 1}"));
        }
        _site.Serve("/hop6", FakeSitePage.Text("end"));

        using var five = await _services.Guard.SendAsync(new Uri(_site.Url("/hop1")), u => new HttpRequestMessage(HttpMethod.Get, u), 5, CancellationToken.None);
        using var six = await _services.Guard.SendAsync(new Uri(_site.Url("/hop0")), u => new HttpRequestMessage(HttpMethod.Get, u), 5, CancellationToken.None);

        Assert.Equal(HttpStatusCode.OK, five.Response.StatusCode);
        Assert.EndsWith("/hop6", five.FinalUrl.AbsoluteUri);
        Assert.Equal(HttpStatusCode.Found, six.Response.StatusCode);
        Assert.EndsWith("/hop5", six.FinalUrl.AbsoluteUri);
    }

    [Theory]
    [InlineData("93.184.216.34", null)]
    [InlineData("8.8.8.8", null)]
    [InlineData("2606:4700::1111", null)]
    [InlineData("127.0.0.1", "loopback")]
    [InlineData("0.0.0.0", "unspecified")]
    [InlineData("10.1.2.3", "private")]
    [InlineData("172.31.255.255", "private")]
    [InlineData("172.32.0.1", null)]
    [InlineData("192.168.0.1", "private")]
    [InlineData("169.254.169.254", "metadata")]
    [InlineData("169.254.1.1", "link-local")]
    [InlineData("100.64.0.1", "CGNAT")]
    [InlineData("100.128.0.1", null)]
    [InlineData("239.255.255.250", "multicast")]
    [InlineData("::", "unspecified")]
    [InlineData("::1", "loopback")]
    [InlineData("::ffff:10.0.0.1", "private")]
    [InlineData("::ffff:8.8.8.8", null)]
    [InlineData("::127.0.0.1", "loopback")]
    [InlineData("64:ff9b::a9fe:a9fe", "metadata")]
    [InlineData("2002:7f00:1::", "loopback")]
    [InlineData("fd00:ec2::254", "metadata")]
    [InlineData("fd12:3456::1", "unique-local")]
    [InlineData("fe80::1", "link-local")]
    [InlineData("ff02::1", "multicast")]
    public void Address_rules(string address, string? reasonContains)
    {
        var reason = OutboundAddressRules.RefusalReason(IPAddress.Parse(address));

        if (reasonContains is null)
        {
            Assert.Null(reason);
        }
        else
        {
            Assert.Contains(reasonContains, reason);
        }
    }
}
