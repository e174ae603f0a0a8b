using System.Net;

namespace Orleans.Search.Tests.Api;

/// <summary>A standalone silo's operational endpoints: /metrics and the dashboard need the admin role there too.</summary>
public sealed class SiloOperationsTests
{
    [Fact]
    public async Task A_silo_serves_metrics_and_the_dashboard_to_admin_keys_only()
    {
        using var folder = new TempDatabase();
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Orleans"] = folder.ConnectionString,
            ["Cluster:ClusterId"] = $"test-{Guid.NewGuid():N}",
            ["Dashboard:Enabled"] = "true",
        };
        TestKeys.Configure(settings, 0, "silo-user-key", "someone");
        TestKeys.Configure(settings, 1, "silo-ops-key", "ops", "admin");
        await using var silo = await SiloProcess.StartAsync(folder.Folder, settings.ToDictionary(s => s.Key, s => s.Value!), _ => Task.FromResult(true));
        using var http = new HttpClient { BaseAddress = silo.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };

        foreach (var path in new[] { "/metrics", "/dashboard/" })
        {
            using (var anonymous = await http.GetAsync(path))
            {
                await GatewayApi.ReadProblemAsync(anonymous, HttpStatusCode.Unauthorized);
            }
            using (var user = await SendAsync(http, path, "silo-user-key"))
            {
                await GatewayApi.ReadProblemAsync(user, HttpStatusCode.Forbidden);
            }
            using var admin = await SendAsync(http, path, "silo-ops-key");
            Assert.True(admin.StatusCode == HttpStatusCode.OK, $"{path} with the admin key answered {(int)admin.StatusCode}:\n{silo.Output}");
        }
        using var live = await http.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }

    private static Task<HttpResponseMessage> SendAsync(HttpClient http, string path, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("X-Api-Key", key);
        return http.SendAsync(request);
    }
}
