using Orleans.Search.Cli;

return await SearchCli.RunAsync(args, Console.Out, Console.Error, Environment.GetEnvironmentVariable);
