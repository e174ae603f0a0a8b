using Orleans.Search.Gateway.Auth;
using Orleans.Search.Gateway.Extensions;
using Orleans.Search.Silo.Security;

if (args is [HashKeyCommand.Name, ..])
{
    return HashKeyCommand.Run(Console.In, Console.Out, Console.Error, interactive: !Console.IsInputRedirected);
}

var builder = WebApplication.CreateBuilder(args);
builder.AddSearchCluster();
builder.AddSearchApi();

var app = builder.Build();
app.MapSearchApi();
return app.RunUnlessRefused();
