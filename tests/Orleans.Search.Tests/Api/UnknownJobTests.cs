using System.Net;
using Microsoft.Extensions.DependencyInjection;

namespace Orleans.Search.Tests.Api;

/// <summary>Well-formed ids of jobs that do not exist cost a look-up each and leave nothing behind.</summary>
[Collection(OpenGatewayCollection.Name)]
public sealed class UnknownJobTests(OpenGatewayFixture fixture)
{
    [Fact]
    public async Task Asking_for_many_unknown_job_ids_answers_404_and_leaves_no_job_activations_behind()
    {
        var management = fixture.Gateway.Services.GetRequiredService<IGrainFactory>().GetGrain<IManagementGrain>(0);
        var before = await JobActivationsAsync(management);

        var ids = Enumerable.Range(0, 200).Select(_ => Guid.NewGuid().ToString("N")).ToList();
        foreach (var chunk in ids.Chunk(20))
        {
            await Task.WhenAll(chunk.Select(async (id, i) =>
            {
                // Every way of naming a job: status, events, cancel, debug.
                using var response = (i % 4) switch
                {
                    0 => await fixture.Http.GetAsync($"/api/search-jobs/{id}"),
                    1 => await fixture.Http.GetAsync($"/api/search-jobs/{id}/events"),
                    2 => await fixture.Http.PostAsync($"/api/search-jobs/{id}/cancel", null),
                    _ => await fixture.Http.GetAsync($"/api/search-jobs/{id}/debug"),
                };
                await GatewayApi.ReadProblemAsync(response, HttpStatusCode.NotFound);
            }));
        }

        // Each look-up's activation goes away as soon as it answered (activations otherwise idle for the collection age, minutes).
        await Eventually.ReturnsAsync(() => JobActivationsAsync(management), count => count <= before,
            $"job activations back to at most {before} after 200 unknown ids", TimeSpan.FromSeconds(20));
    }

    private static async Task<int> JobActivationsAsync(IManagementGrain management) =>
        (await management.GetSimpleGrainStatistics())
            .Where(s => s.GrainType.Contains(nameof(SearchJobGrain), StringComparison.Ordinal))
            .Sum(s => s.ActivationCount);
}
