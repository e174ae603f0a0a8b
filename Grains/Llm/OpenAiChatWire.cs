using System.Buffers;
using System.Text.Json;

namespace Orleans.Search.Llm;

/// <summary>
/// The OpenAI chat-completions wire format, written and read directly: the request body, one streamed chunk, a whole
/// response, <c>usage</c> (with OpenAI's <c>prompt_tokens_details.cached_tokens</c> or DeepSeek's
/// <c>prompt_cache_hit_tokens</c>) and the error envelope.
/// </summary>
public static class OpenAiChatWire
{
    /// <summary>One parsed chunk or body: text, why it stopped, the usage if reported, or the provider's error.</summary>
    public sealed record Part(string? Text, string? FinishReason, TokenUsage? Usage, string? Model, ProviderError? Error);

    /// <summary>The <c>error</c> object of a failed call.</summary>
    public sealed record ProviderError(string Message, string? Type, string? Code);

    public static byte[] RequestBody(LlmRequest request, string model, bool stream)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("model", model);
            w.WriteStartArray("messages");
            foreach (var message in request.Messages)
            {
                w.WriteStartObject();
                w.WriteString("role", message.Role);
                w.WriteString("content", message.Content);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            // max_tokens, not max_completion_tokens: DeepSeek, vLLM and Ollama document only max_tokens.
            w.WriteNumber("max_tokens", request.MaxOutputTokens);
            if (request.Temperature is { } temperature)
            {
                w.WriteNumber("temperature", temperature);
            }
            if (request.JsonSchema is { } schema)
            {
                w.WriteStartObject("response_format");
                w.WriteString("type", "json_schema");
                w.WriteStartObject("json_schema");
                w.WriteString("name", "response");
                w.WritePropertyName("schema");
                using (var parsed = JsonDocument.Parse(schema))
                {
                    parsed.RootElement.WriteTo(w);
                }
                w.WriteBoolean("strict", true);
                w.WriteEndObject();
                w.WriteEndObject();
            }
            else if (request.JsonOutput)
            {
                w.WriteStartObject("response_format");
                w.WriteString("type", "json_object");
                w.WriteEndObject();
            }
            w.WriteBoolean("stream", stream);
            if (stream)
            {
                w.WriteStartObject("stream_options");
                w.WriteBoolean("include_usage", true);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>A streamed chunk (<c>choices[0].delta.content</c>) or a whole response (<c>choices[0].message.content</c>).</summary>
    public static Part ParsePart(string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new JsonException("not a JSON object");
        }
        if (root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
        {
            return new Part(null, null, null, null, ReadError(error));
        }
        string? text = null, finish = null;
        if (root.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array && choices.GetArrayLength() > 0)
        {
            var choice = choices[0];
            if ((choice.TryGetProperty("delta", out var content) || choice.TryGetProperty("message", out content)) && content.ValueKind == JsonValueKind.Object
                && content.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String)
            {
                text = c.GetString();
            }
            if (choice.TryGetProperty("finish_reason", out var f) && f.ValueKind == JsonValueKind.String)
            {
                finish = f.GetString();
            }
        }
        var model = root.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
        var usage = root.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object ? ReadUsage(u) : null;
        return new Part(text, finish, usage, model, null);
    }

    /// <summary>The error envelope of a non-2xx body, or null when it is not one.</summary>
    public static ProviderError? ParseError(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("error", out var error)
                ? error.ValueKind == JsonValueKind.Object ? ReadError(error) : new ProviderError(error.ToString(), null, null)
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static ProviderError ReadError(JsonElement error) => new(
        error.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.String ? message.GetString()! : "error",
        error.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String ? type.GetString() : null,
        error.TryGetProperty("code", out var code) && code.ValueKind == JsonValueKind.String ? code.GetString()
            : code.ValueKind == JsonValueKind.Number ? code.GetRawText() : null);

    private static TokenUsage ReadUsage(JsonElement usage)
    {
        var cached = Number(usage, "prompt_tokens_details", "cached_tokens") ?? Number(usage, "prompt_cache_hit_tokens") ?? 0;
        return new TokenUsage
        {
            Input = Number(usage, "prompt_tokens") ?? 0,
            CachedInput = cached,
            Output = Number(usage, "completion_tokens") ?? 0,
            Reasoning = Number(usage, "completion_tokens_details", "reasoning_tokens") ?? 0,
        };
    }

    private static long? Number(JsonElement element, params string[] path)
    {
        foreach (var name in path)
        {
            if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(name, out element))
            {
                return null;
            }
        }
        return element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out var value) ? value : null;
    }
}
