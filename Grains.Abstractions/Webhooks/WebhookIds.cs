namespace Orleans.Search.Webhooks;

/// <summary>The shapes of webhook ids: a prefix and 32 lowercase hex digits. Anything else names nothing.</summary>
public static class WebhookIds
{
    public const string EndpointPrefix = "ep_";
    public const string DeliveryPrefix = "msg_";

    public static bool IsEndpointId(string? id) => Is(id, EndpointPrefix);

    public static bool IsDeliveryId(string? id) => Is(id, DeliveryPrefix);

    private static bool Is(string? id, string prefix) =>
        id is not null && id.Length == prefix.Length + 32 && id.StartsWith(prefix, StringComparison.Ordinal)
        && id.AsSpan(prefix.Length).IndexOfAnyExcept("0123456789abcdef") < 0;
}
