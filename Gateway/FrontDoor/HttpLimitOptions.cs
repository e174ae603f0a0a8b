namespace Orleans.Search.Gateway.FrontDoor;

/// <summary>The <c>Http</c> section: what one request, one address and one user may cost the gateway.</summary>
public sealed class HttpLimitOptions
{
    public const string Section = "Http";

    /// <summary>The largest request body read; a larger one answers 413 and is not read further.</summary>
    public int MaxBodyBytes { get; set; } = 256 * 1024;

    /// <summary>Requests a minute per authenticated user (a token bucket as deep as one minute's worth); 0 = no limit.</summary>
    public int PermitsPerMinute { get; set; } = 600;

    /// <summary>Requests a minute per remote address, counted before authentication; 0 = no limit.</summary>
    public int PermitsPerMinutePerAddress { get; set; } = 1200;
}
