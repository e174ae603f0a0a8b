global using Orleans.Search.Jobs;
global using Orleans.Search.Tests.Infrastructure;
global using Orleans.Search.Harness;
