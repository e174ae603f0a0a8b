using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Orleans.Search.Fakes;

/// <summary>What a receiver answers to one delivery: a status and, optionally, a <c>Retry-After</c> in seconds.</summary>
public sealed record WebhookReply(int Status, int? RetryAfterSeconds = null)
{
    public static readonly WebhookReply Ok = new(204);
}

/// <summary>
/// One delivery as it arrived, with what this receiver's own Standard Webhooks check made of it: which of the path's
/// secrets produced one of the <c>webhook-signature</c> signatures, and whether the timestamp was within 5 minutes.
/// </summary>
public sealed record WebhookArrival(
    DateTimeOffset ArrivedAt,
    string Path,
    string? Id,
    string? Timestamp,
    string? Signature,
    string Body,
    IReadOnlyList<string> VerifiedSecrets,
    bool TimestampFresh,
    int AnsweredStatus)
{
    /// <summary>The delivery is authentic: signed by at least one known secret, with a fresh timestamp.</summary>
    public bool Verified => VerifiedSecrets.Count > 0 && TimestampFresh;

    /// <summary>The space-separated signatures of the header.</summary>
    public IReadOnlyList<string> Signatures => Signature?.Split(' ', StringSplitOptions.RemoveEmptyEntries) ?? [];
}

/// <summary>
/// A loopback webhook receiver on a real Kestrel server (127.0.0.1, ephemeral port). Each path (<c>/{name}</c>) is its
/// own receiver: the secrets it verifies with (<see cref="Trust"/>) and the answers it gives, in turn, before it falls
/// back to <see cref="Otherwise"/> (<see cref="Script"/>). Signatures are checked here with this class's own HMAC code,
/// not the service's.
/// </summary>
public sealed class FakeWebhookReceiver : IAsyncDisposable
{
    /// <summary>How far a timestamp may be from now (the Standard Webhooks tolerance).</summary>
    public static readonly TimeSpan Tolerance = TimeSpan.FromMinutes(5);

    private LoopbackHost _host = null!;
    private readonly ConcurrentDictionary<string, List<string>> _secrets = new();
    private readonly ConcurrentDictionary<string, Queue<WebhookReply>> _scripts = new();
    private readonly ConcurrentDictionary<string, WebhookReply> _otherwise = new();
    private readonly Lock _lock = new();
    private readonly List<WebhookArrival> _arrivals = [];

    private FakeWebhookReceiver()
    {
    }

    public Uri BaseUrl => _host.BaseUrl;

    /// <summary>The URL of the receiver named <paramref name="name"/>.</summary>
    public string UrlFor(string name) => new Uri(BaseUrl, name).ToString();

    public static async Task<FakeWebhookReceiver> StartAsync()
    {
        var receiver = new FakeWebhookReceiver();
        receiver._host = await LoopbackHost.StartAsync(receiver.HandleAsync).ConfigureAwait(false);
        return receiver;
    }

    /// <summary>Verify deliveries to <paramref name="name"/> with <paramref name="secret"/> (besides the secrets trusted already).</summary>
    public void Trust(string name, string secret) => _secrets.AddOrUpdate(name, _ => [secret], (_, list) =>
    {
        lock (list)
        {
            list.Add(secret);
        }
        return list;
    });

    /// <summary>Answers the next deliveries to <paramref name="name"/> with <paramref name="replies"/> in turn.</summary>
    public void Script(string name, params WebhookReply[] replies)
    {
        var queue = _scripts.GetOrAdd(name, _ => new Queue<WebhookReply>());
        lock (queue)
        {
            foreach (var reply in replies)
            {
                queue.Enqueue(reply);
            }
        }
    }

    /// <summary>What <paramref name="name"/> answers once its script is used up (204 unless set).</summary>
    public void Otherwise(string name, WebhookReply reply) => _otherwise[name] = reply;

    public IReadOnlyList<WebhookArrival> ArrivalsFor(string name)
    {
        lock (_lock)
        {
            return _arrivals.Where(a => a.Path == name).ToList();
        }
    }

    /// <summary>Deliveries to <paramref name="name"/> this receiver accepted (answered 2xx).</summary>
    public IReadOnlyList<WebhookArrival> AcceptedBy(string name) => ArrivalsFor(name).Where(a => a.AnsweredStatus is >= 200 and < 300).ToList();

    private async Task HandleAsync(HttpContext context)
    {
        var name = context.Request.Path.Value!.Trim('/');
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer).ConfigureAwait(false);
        var body = buffer.ToArray();
        var id = context.Request.Headers["webhook-id"].FirstOrDefault();
        var timestamp = context.Request.Headers["webhook-timestamp"].FirstOrDefault();
        var signature = context.Request.Headers["webhook-signature"].FirstOrDefault();
        List<string> secrets;
        var known = _secrets.TryGetValue(name, out var list) ? list : [];
        lock (known)
        {
            secrets = [.. known];
        }
        var verified = id is null || timestamp is null || signature is null ? [] : Verify(secrets, id, timestamp, body, signature);
        var fresh = long.TryParse(timestamp, out var seconds)
            && (DateTimeOffset.UtcNow - DateTimeOffset.FromUnixTimeSeconds(seconds)).Duration() <= Tolerance;

        var reply = _otherwise.TryGetValue(name, out var fallback) ? fallback : WebhookReply.Ok;
        if (_scripts.TryGetValue(name, out var queue))
        {
            lock (queue)
            {
                if (queue.TryDequeue(out var scripted))
                {
                    reply = scripted;
                }
            }
        }
        lock (_lock)
        {
            _arrivals.Add(new WebhookArrival(DateTimeOffset.UtcNow, name, id, timestamp, signature, Encoding.UTF8.GetString(body), verified, fresh, reply.Status));
        }
        context.Response.StatusCode = reply.Status;
        if (reply.RetryAfterSeconds is { } retryAfter)
        {
            context.Response.Headers.RetryAfter = retryAfter.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    /// <summary>
    /// The Standard Webhooks check, written here independently: for each secret, HMAC-SHA256 over
    /// <c>{id}.{timestamp}.{body}</c> with the base64-decoded key after <c>whsec_</c>, compared in constant time with each
    /// <c>v1,</c> signature of the header. Returns the secrets that matched one.
    /// </summary>
    public static IReadOnlyList<string> Verify(IEnumerable<string> secrets, string id, string timestamp, byte[] body, string header)
    {
        var signatures = header.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Where(s => s.StartsWith("v1,", StringComparison.Ordinal))
            .Select(s => TryBase64(s[3..]))
            .OfType<byte[]>()
            .ToList();
        var matched = new List<string>();
        foreach (var secret in secrets)
        {
            var key = Convert.FromBase64String(secret.StartsWith("whsec_", StringComparison.Ordinal) ? secret["whsec_".Length..] : secret);
            using var hmac = new HMACSHA256(key);
            var signed = Encoding.UTF8.GetBytes($"{id}.{timestamp}.").Concat(body).ToArray();
            var expected = hmac.ComputeHash(signed);
            if (signatures.Any(s => CryptographicOperations.FixedTimeEquals(s, expected)))
            {
                matched.Add(secret);
            }
        }
        return matched;
    }

    private static byte[]? TryBase64(string text)
    {
        try
        {
            return Convert.FromBase64String(text);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _host.DisposeAsync().ConfigureAwait(false);
    }
}
