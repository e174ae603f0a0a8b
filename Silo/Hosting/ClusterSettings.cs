namespace Orleans.Search.Silo.Hosting;

/// <summary>The product's own <c>Cluster</c> section (Orleans keeps its own <c>Orleans</c> section).</summary>
public sealed class ClusterSettings
{
    public const string Section = "Cluster";
    public const string DefaultSqlite = "Data Source=data/orleans-search.db";

    /// <summary><c>sqlite</c> (default) or <c>postgres</c>; both through the Orleans ADO.NET providers.</summary>
    public string Storage { get; set; } = "sqlite";

    /// <summary><c>localhost</c> (default) or <c>adonet</c>.</summary>
    public string Membership { get; set; } = "localhost";

    /// <summary>Gateway only: <c>embedded</c> (silo in-process, default) or <c>client</c>.</summary>
    public string Mode { get; set; } = "embedded";

    public string ClusterId { get; set; } = "orleans-search";

    public string ServiceId { get; set; } = "orleans-search";

    public int SiloPort { get; set; } = 11111;

    public int GatewayPort { get; set; } = 30000;

    public bool IsPostgres => string.Equals(Storage, "postgres", StringComparison.OrdinalIgnoreCase);

    public bool IsAdoNetMembership => string.Equals(Membership, "adonet", StringComparison.OrdinalIgnoreCase);

    /// <summary>The ADO.NET invariant of the configured storage (SQLite's is "System.Data.SQLite", loading Microsoft.Data.Sqlite).</summary>
    public string Invariant => IsPostgres ? "Npgsql" : "System.Data.SQLite";

    /// <summary><c>ConnectionStrings:Orleans</c> as configured (null when absent).</summary>
    private string? _configuredConnectionString;

    /// <summary><c>ConnectionStrings:Orleans</c>; SQLite defaults to a file under <c>data/</c>.</summary>
    public string ConnectionString =>
        _configuredConnectionString is { Length: > 0 } cs ? cs
        : IsPostgres ? throw new InvalidOperationException("Cluster:Storage=postgres needs ConnectionStrings:Orleans.")
        : DefaultSqlite;

    /// <summary>
    /// The settings of this process: bound and validated the first time it is asked, then registered as a singleton that
    /// later callers (a silo builder, a client builder, health checks) get back, so the section is read once.
    /// </summary>
    public static ClusterSettings For(IServiceCollection services, IConfiguration configuration)
    {
        if (services.LastOrDefault(d => d.ServiceType == typeof(ClusterSettings))?.ImplementationInstance is ClusterSettings registered)
        {
            return registered;
        }
        var settings = Read(configuration);
        services.AddSingleton(settings);
        return settings;
    }

    /// <summary>Bound and validated, for a command that builds no services (<c>migrate</c>).</summary>
    public static ClusterSettings Read(IConfiguration configuration)
    {
        var settings = configuration.GetSection(Section).Get<ClusterSettings>() ?? new ClusterSettings();
        settings.Validate();
        settings._configuredConnectionString = configuration.GetConnectionString("Orleans");
        return settings;
    }

    private void Validate()
    {
        if (!IsPostgres && !string.Equals(Storage, "sqlite", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"Cluster:Storage must be 'sqlite' or 'postgres', not '{Storage}'.");
        }
        if (!IsAdoNetMembership && !string.Equals(Membership, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"Cluster:Membership must be 'localhost' or 'adonet', not '{Membership}'.");
        }
        if (Mode is not ("embedded" or "client"))
        {
            throw new InvalidOperationException($"Cluster:Mode must be 'embedded' or 'client', not '{Mode}'.");
        }
    }
}
