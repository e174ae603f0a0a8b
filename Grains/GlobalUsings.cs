global using Microsoft.Extensions.Logging;
global using Microsoft.Extensions.Options;
global using Orleans.Concurrency;
global using Orleans.Search.Jobs;
global using Orleans.Search.Queries;
global using Orleans.Search.RateLimiting;
