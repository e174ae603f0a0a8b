using Orleans.Search.Gateway.Extensions;

var builder = WebApplication.CreateBuilder(args);
builder.AddSearchCluster();
builder.AddSearchApi();

var app = builder.Build();
app.MapSearchApi();
app.Run();
