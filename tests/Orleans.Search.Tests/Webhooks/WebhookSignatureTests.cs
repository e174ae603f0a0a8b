using System.Security.Cryptography;
using System.Text;
using Orleans.Search.Fakes;
using Orleans.Search.Webhooks;

namespace Orleans.Search.Tests.Webhooks;

public sealed class WebhookSignatureTests
{
    // The Standard Webhooks specification's published test vector.
    private const string VectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    private const string VectorId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    private const long VectorTimestamp = 1614265330;
    private const string VectorBody = """{"test": 2432232314}""";
    private const string VectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    [Fact]
    public void The_signer_reproduces_the_standard_test_vector()
    {
        Assert.Equal(VectorSignature, WebhookSignature.Sign([VectorSecret], VectorId, VectorTimestamp, Encoding.UTF8.GetBytes(VectorBody)));
    }

    [Fact]
    public void The_test_receivers_own_check_accepts_the_vector_and_refuses_a_changed_body_id_or_timestamp()
    {
        var body = Encoding.UTF8.GetBytes(VectorBody);
        Assert.Equal(new[] { VectorSecret }, FakeWebhookReceiver.Verify([VectorSecret], VectorId, VectorTimestamp.ToString(), body, VectorSignature));
        Assert.Empty(FakeWebhookReceiver.Verify([VectorSecret], VectorId, VectorTimestamp.ToString(), Encoding.UTF8.GetBytes("""{"test": 2432232315}"""), VectorSignature));
        Assert.Empty(FakeWebhookReceiver.Verify([VectorSecret], VectorId + "x", VectorTimestamp.ToString(), body, VectorSignature));
        Assert.Empty(FakeWebhookReceiver.Verify([VectorSecret], VectorId, (VectorTimestamp + 1).ToString(), body, VectorSignature));
    }

    [Fact]
    public void Two_secrets_give_two_signatures_each_verifiable_on_its_own()
    {
        var (older, newer) = (WebhookSignature.NewSecret(), WebhookSignature.NewSecret());
        var body = Encoding.UTF8.GetBytes("""{"type":"job.completed"}""");
        var header = WebhookSignature.Sign([newer, older], "msg_1", 1700000000, body);

        var parts = header.Split(' ');
        Assert.Equal(2, parts.Length);
        Assert.All(parts, p => Assert.StartsWith("v1,", p));
        Assert.Equal(new[] { newer }, FakeWebhookReceiver.Verify([newer], "msg_1", "1700000000", body, header));
        Assert.Equal(new[] { older }, FakeWebhookReceiver.Verify([older], "msg_1", "1700000000", body, header));
        Assert.Empty(FakeWebhookReceiver.Verify([WebhookSignature.NewSecret()], "msg_1", "1700000000", body, header));
    }

    [Fact]
    public void The_readmes_receiver_code_accepts_a_fresh_delivery_and_refuses_a_stale_or_changed_one()
    {
        var secret = WebhookSignature.NewSecret();
        var body = Encoding.UTF8.GetBytes("""{"type":"job.completed"}""");
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = WebhookSignature.Sign([WebhookSignature.NewSecret(), secret], "msg_2", now, body);
        Assert.True(ReadmeVerify(secret, "msg_2", now.ToString(), body, header));
        Assert.False(ReadmeVerify(secret, "msg_2", now.ToString(), [.. body, (byte)' '], header));
        var stale = now - 301;
        Assert.False(ReadmeVerify(secret, "msg_2", stale.ToString(), body, WebhookSignature.Sign([secret], "msg_2", stale, body)));
    }

    /// <summary>The C# receiver code in the README, word for word.</summary>
    private static bool ReadmeVerify(string secret, string id, string timestamp, byte[] body, string signatureHeader)
    {
        if (!long.TryParse(timestamp, out var seconds)
            || Math.Abs(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - seconds) > 300)
        {
            return false;
        }
        var key = Convert.FromBase64String(secret["whsec_".Length..]);
        var expected = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{id}.{timestamp}.").Concat(body).ToArray());
        foreach (var part in signatureHeader.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var given = new byte[64];
            if (part.StartsWith("v1,") && Convert.TryFromBase64String(part[3..], given, out var length)
                && CryptographicOperations.FixedTimeEquals(given.AsSpan(0, length), expected))
            {
                return true;
            }
        }
        return false;
    }

    [Fact]
    public void A_new_secret_is_whsec_and_32_random_bytes()
    {
        var secret = WebhookSignature.NewSecret();
        Assert.StartsWith("whsec_", secret);
        Assert.Equal(32, Convert.FromBase64String(secret["whsec_".Length..]).Length);
        Assert.NotEqual(secret, WebhookSignature.NewSecret());
    }
}
