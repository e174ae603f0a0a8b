using System.Text.Json;
using Orleans.Search.RateLimiting;

namespace Orleans.Search.Tests.RateLimiting;

/// <summary>The circuit state is an enum in code and keeps its wire strings in the API.</summary>
public sealed class CircuitStateTests
{
    [Theory]
    [InlineData(CircuitState.Closed, "closed")]
    [InlineData(CircuitState.HalfOpen, "half-open")]
    [InlineData(CircuitState.Open, "open")]
    public void A_state_is_written_and_read_as_its_api_string(CircuitState state, string wire)
    {
        var json = JsonSerializer.Serialize(new LimiterSnapshot { Key = "provider:p", Circuit = state }, JsonSerializerOptions.Web);

        Assert.Equal(wire, JsonDocument.Parse(json).RootElement.GetProperty("circuit").GetString());
        Assert.Equal(state, JsonSerializer.Deserialize<CircuitState>($"\"{wire}\"", JsonSerializerOptions.Web));
    }

    [Fact]
    public void The_states_order_from_healthy_to_broken_so_the_worst_silo_decides()
    {
        Assert.True(CircuitState.Closed < CircuitState.HalfOpen);
        Assert.True(CircuitState.HalfOpen < CircuitState.Open);
    }
}
