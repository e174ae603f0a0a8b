using System.Runtime.CompilerServices;

namespace Orleans.Search.Tests.Infrastructure;

/// <summary>
/// Every host a test starts (in this process or as a child process, which inherits the environment) refuses outbound
/// hosts that are not on <c>Net:AllowHosts</c> before any DNS lookup: fake results name hosts such as
/// <c>results.example</c>, and a test must never send traffic (DNS included) anywhere but loopback.
/// </summary>
internal static class NoLookupsOutside
{
    [ModuleInitializer]
    internal static void Apply() => Environment.SetEnvironmentVariable("Net__AllowListOnly", "true");
}
