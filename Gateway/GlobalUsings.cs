global using Microsoft.Extensions.Options;
global using Orleans.Search.Jobs;
