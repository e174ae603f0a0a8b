using System.Buffers;
using System.Collections.Frozen;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.HttpResults;
using Orleans.Search.Gateway.FrontDoor;

namespace Orleans.Search.Gateway.Api;

/// <summary>
/// Reads a <see cref="JobSpec"/> from a request body strictly and at a bounded cost: at most <c>Http:MaxBodyBytes</c> are
/// buffered; unknown members, members given twice, nesting deeper than <see cref="MaxDepth"/>, control characters in
/// text and more than <see cref="JobRequests.MaxQueries"/> queries are refused; reading stops at the first of them.
/// </summary>
public sealed class JobSpecReader(IOptionsMonitor<HttpLimitOptions> limits)
{
    /// <summary>A job spec is an object of scalars and arrays: a few levels are plenty.</summary>
    public const int MaxDepth = 8;

    private const string Invalid = "The job spec is invalid";
    private const int InitialBufferBytes = 16 * 1024;

    private static readonly JsonSerializerOptions Json = CreateOptions();

    /// <summary>The spec's members (as JSON names, case-insensitive as the web defaults read them) and their index.</summary>
    private static readonly FrozenDictionary<string, int> Members = Json.GetTypeInfo(typeof(JobSpec)).Properties
        .Select((property, index) => (property.Name, index))
        .ToFrozenDictionary(p => p.Name, p => p.index, StringComparer.OrdinalIgnoreCase);

    private static readonly string MemberList = string.Join(", ", Json.GetTypeInfo(typeof(JobSpec)).Properties.Select(p => p.Name));

    public async Task<(JobSpec? Spec, ProblemHttpResult? Problem)> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (!request.HasJsonContentType())
        {
            return (null, Problems.UnsupportedMediaType(Problems.JsonBodyRequired));
        }
        var max = limits.CurrentValue.MaxBodyBytes;
        if (request.ContentLength > max)
        {
            return (null, Problems.TooLarge(max));
        }
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(max + 1L, (request.ContentLength ?? InitialBufferBytes) + 1));
        try
        {
            var length = 0;
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (length > max)
                    {
                        return (null, Problems.TooLarge(max));
                    }
                    var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(max + 1L, buffer.Length * 2L));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }
                var read = await request.Body.ReadAsync(buffer.AsMemory(length), cancellationToken);
                if (read == 0)
                {
                    break;
                }
                length += read;
            }
            return length > max ? (null, Problems.TooLarge(max)) : Parse(buffer.AsSpan(0, length));
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, Problems.TooLarge(max));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>A whole body, already bounded in size.</summary>
    public static (JobSpec? Spec, ProblemHttpResult? Problem) Parse(ReadOnlySpan<byte> body)
    {
        if (Inspect(body) is { } error)
        {
            return (null, Problems.Invalid(new Dictionary<string, string[]> { [error.Field] = [error.Message] }, Invalid));
        }
        try
        {
            var spec = JsonSerializer.Deserialize<JobSpec>(body, Json);
            return spec is null ? (null, Problems.InvalidField("body", "The request body must be a JSON object (a job spec), not null.")) : (spec, null);
        }
        catch (InvalidSpecValueException ex)
        {
            var field = ex.Field ?? FieldOf(ex.Path);
            return (null, Problems.Invalid(new Dictionary<string, string[]> { [field] = [$"'{field}' {ex.Problem}."] }, Invalid));
        }
        catch (JsonException ex)
        {
            // A value of the wrong type for a member; nested members (of later spec fields) get the serializer's words.
            var field = FieldOf(ex.Path);
            var member = Json.GetTypeInfo(typeof(JobSpec)).Properties.FirstOrDefault(p => string.Equals(p.Name, field, StringComparison.OrdinalIgnoreCase));
            var message = member is not null ? $"'{field}' must be {Expected(member.PropertyType)}." : $"'{field}' is not valid: {FirstSentence(ex.Message)}";
            return (null, Problems.Invalid(new Dictionary<string, string[]> { [field] = [message] }, Invalid));
        }
    }

    /// <summary>
    /// One pass over the top level before anything is built: the body is one object, each member is a spec member given
    /// once, and no value nests deeper than <see cref="MaxDepth"/>. Stops at the first problem.
    /// </summary>
    private static (string Field, string Message)? Inspect(ReadOnlySpan<byte> body)
    {
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = MaxDepth });
        var field = "body";
        try
        {
            if (!reader.Read())
            {
                return ("body", "The request body is empty; send a job spec (a JSON object).");
            }
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                return ("body", reader.TokenType == JsonTokenType.Null
                    ? "The request body must be a JSON object (a job spec), not null."
                    : "The request body must be a JSON object (a job spec).");
            }
            Span<bool> seen = stackalloc bool[Members.Count];
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString()!;
                if (!Members.TryGetValue(name, out var index))
                {
                    var unknown = FrontDoorProblems.Shorten(name);
                    return (unknown, $"'{unknown}' is not a job spec member; the members are {MemberList}.");
                }
                if (seen[index])
                {
                    return (name, $"'{name}' is given twice; give each member once.");
                }
                seen[index] = true;
                field = name;
                reader.Read();
                reader.Skip();
                field = "body";
            }
            // Only whitespace may follow the object; the reader throws on anything else.
            reader.Read();
            return null;
        }
        catch (JsonException ex)
        {
            return (field, field == "body"
                ? $"The request body is not a valid job spec: {FirstSentence(ex.Message)}"
                : $"The request body cannot be read at '{field}': {FirstSentence(ex.Message)}");
        }
    }

    private static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            // Backstops for members nested in later spec fields; the top level is inspected first.
            UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
            AllowDuplicateProperties = false,
            MaxDepth = MaxDepth,
            // The web defaults read "3" as 3; a spec says what it means, so a number must be a number.
            NumberHandling = JsonNumberHandling.Strict,
            TypeInfoResolver = new DefaultJsonTypeInfoResolver
            {
                Modifiers =
                {
                    type =>
                    {
                        if (type.Type == typeof(JobSpec) && type.Properties.FirstOrDefault(p => p.Name == "queries") is { } queries)
                        {
                            queries.CustomConverter = new QueryListConverter(JobRequests.MaxQueries);
                        }
                        if (type.Type == typeof(JobSpec) && type.Properties.FirstOrDefault(p => p.Name == "expand") is { } expand)
                        {
                            expand.CustomConverter = new ExpandConverter();
                        }
                    },
                },
            },
        };
        options.Converters.Add(new PlainTextConverter());
        options.MakeReadOnly();
        return options;
    }

    private static string FieldOf(string? path) =>
        string.IsNullOrEmpty(path) || path == "$" ? "body" : FrontDoorProblems.Shorten(path.TrimStart('$', '.'));

    private static string Expected(Type type) => (Nullable.GetUnderlyingType(type) ?? type) switch
    {
        var t when t == typeof(int) || t == typeof(long) => "a whole number",
        var t when t == typeof(double) || t == typeof(decimal) => "a number",
        var t when t == typeof(bool) => "true or false",
        var t when t == typeof(string) => "a string",
        var t when t != typeof(string) && typeof(IEnumerable<string>).IsAssignableFrom(t) => "an array of strings",
        _ => "an object",
    };

    private static string FirstSentence(string message)
    {
        var end = message.IndexOf(". ", StringComparison.Ordinal);
        return end > 0 ? message[..(end + 1)] : message;
    }

    /// <summary>A value the spec refuses; <see cref="Field"/> when the serializer's path would not name it exactly.</summary>
    private sealed class InvalidSpecValueException(string? field, string problem) : JsonException(problem)
    {
        public string? Field { get; } = field;

        /// <summary>What is wrong, to follow the field's name: "must be a string".</summary>
        public string Problem { get; } = problem;
    }

    /// <summary>Text in a spec is data for search backends and logs: no control characters (U+0000–U+001F, U+007F–U+009F).</summary>
    private sealed class PlainTextConverter : JsonConverter<string>
    {
        public const string ControlCharacters = "must not contain control characters (U+0000–U+001F, U+007F–U+009F)";

        public override string Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => ReadText(ref reader, null);

        public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);

        public static string ReadText(ref Utf8JsonReader reader, string? field)
        {
            if (reader.TokenType != JsonTokenType.String)
            {
                throw new InvalidSpecValueException(field, "must be a string");
            }
            var text = reader.GetString()!;
            return text.Any(char.IsControl) ? throw new InvalidSpecValueException(field, ControlCharacters) : text;
        }
    }

    /// <summary><c>expand</c>: true, false, or a whole number of sub-queries.</summary>
    private sealed class ExpandConverter : JsonConverter<ExpandSpec>
    {
        public override ExpandSpec Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
        {
            JsonTokenType.True => new ExpandSpec { Enabled = true },
            JsonTokenType.False => new ExpandSpec { Enabled = false },
            JsonTokenType.Number when reader.TryGetInt32(out var count) => new ExpandSpec { Enabled = true, Count = count },
            _ => throw new InvalidSpecValueException("expand", $"must be true, false or a whole number of sub-queries (1–{JobRequests.MaxExpand})"),
        };

        public override void Write(Utf8JsonWriter writer, ExpandSpec value, JsonSerializerOptions options)
        {
            if (value.Count is { } count)
            {
                writer.WriteNumberValue(count);
            }
            else
            {
                writer.WriteBooleanValue(value.Enabled);
            }
        }
    }

    /// <summary>The <c>queries</c> array, read no further than one item past the limit.</summary>
    private sealed class QueryListConverter(int max) : JsonConverter<IReadOnlyList<string>>
    {
        public override IReadOnlyList<string> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            if (reader.TokenType != JsonTokenType.StartArray)
            {
                throw new InvalidSpecValueException("queries", "must be an array of strings");
            }
            var queries = new List<string>();
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (queries.Count == max)
                {
                    throw new InvalidSpecValueException("queries", $"must hold 1–{max} queries; it has more");
                }
                // A null item stays null, for validation to name.
                queries.Add(reader.TokenType == JsonTokenType.Null ? null! : PlainTextConverter.ReadText(ref reader, $"queries[{queries.Count}]"));
            }
            return queries;
        }

        public override void Write(Utf8JsonWriter writer, IReadOnlyList<string> value, JsonSerializerOptions options) =>
            JsonSerializer.Serialize(writer, value.ToArray());
    }
}
