using System.Text;
using System.Text.Json;

namespace Orleans.Search.Fakes.Hostile;

/// <summary>One hostile request and what the gateway must answer. <see cref="Category"/> groups cases in reports.</summary>
public sealed record HostileCase(string Category, string Name, HostileRequest Request, HostileExpectation Expected)
{
    public override string ToString() => $"{Category}: {Name}";
}

/// <summary>What a flood pushes past.</summary>
public enum HostileFloodKind
{
    /// <summary>Job creations by one user beyond <c>Limits:User:MaxJobsPerMinute</c>.</summary>
    Creates,

    /// <summary>Event streams held open by one user beyond <c>Limits:User:MaxOpenStreams</c>.</summary>
    Streams,

    /// <summary><c>POST /api/search</c> waits held by one user beyond <c>Limits:User:MaxOpenStreams</c>.</summary>
    SyncWaits,

    /// <summary>Requests by one user beyond <c>Http:PermitsPerMinute</c>.</summary>
    UserRequests,

    /// <summary>Requests without a key from one address beyond <c>Http:PermitsPerMinutePerAddress</c>.</summary>
    AddressRequests,
}

/// <summary>A flood: <see cref="Beyond"/> more than the limit allows, each extra one to be refused with 429 and Retry-After.</summary>
public sealed record HostileFlood(string Name, HostileFloodKind Kind, int Beyond)
{
    public override string ToString() => $"flood: {Name}";
}

/// <summary>
/// The hostile-input corpus, shared by the hostile-input test and the soak benchmark: every case one line of data.
/// Lucene syntax is a valid query (the <c>local</c> provider must treat it as text), so those cases must be accepted and
/// their jobs must complete; everything else must be refused with a 4xx (a problem naming the field where one is at fault).
/// Cheap refusals come first and the query bombs last, so a gateway that a bomb takes down has answered the rest.
/// </summary>
public static class HostileCorpus
{
    /// <summary><c>Http:MaxBodyBytes</c>'s default: the gateway is run with it.</summary>
    public const int MaxBodyBytes = 262_144;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private static readonly HostileExpectation Accepted = new() { Status = 202, JobCompletes = true };
    private static readonly HostileExpectation TooLarge = new() { Status = 413, Problem = true };
    private static readonly HostileExpectation NotFound = new() { Status = 404, Problem = true };
    private static readonly HostileExpectation Unauthorized = new() { Status = 401, Problem = true };
    private static readonly HostileExpectation Unsupported = new() { Status = 415, Problem = true };
    private static readonly HostileExpectation Refused = new();
    private static readonly HostileExpectation RefusedOrClosed = new() { MayClose = true };

    /// <summary>Query texts that are Lucene syntax bombs (each at most 1000 characters, so each a valid spec).</summary>
    public static IReadOnlyList<(string Name, string Text)> LuceneBombs { get; } =
    [
        ("wildcard * alone", "*"),
        ("wildcard ? alone", "?"),
        ("leading wildcards", "*a*b*c*d*e*f*g*h*"),
        ("wildcards a*b*c*…", "a*b*c*d*e*f*g*h*i*j*"),
        ("40 × ?", Repeat("?", 40)),
        ("t followed by 30 × ?", "t" + Repeat("?", 30)),
        ("1000-char a*a*a*…", Repeat("a*", 500)),
        ("body:*", "body:*"),
        ("prefix a*", "a*"),
        ("prefixes a* … z*", string.Join(' ', Enumerable.Range('a', 26).Select(c => $"{(char)c}*"))),
        ("333 × a*", Join("a*", " ", 333)),
        ("fuzzy token~2", "token~2"),
        ("fuzzy bucket~0.1", "bucket~0.1"),
        ("125 fuzzy terms", Join("abcde~2", " ", 125)),
        ("fuzzy 998-char term", Repeat("a", 998) + "~2"),
        ("fuzzy wildcard", "or*ns~2"),
        ("range [a TO z]", "[a TO z]"),
        ("range {* TO *}", "{* TO *}"),
        ("range of huge numbers", "body:[0 TO 99999999999999999999]"),
        ("110 ranges", Join("[a TO z]", " ", 110)),
        ("field title:", "title:orleans"),
        ("field path:/etc/passwd", "path:/etc/passwd"),
        ("unknown fields", "secret:* OR password:* OR _id:*"),
        ("match all *:*", "*:*"),
        ("400 nested parentheses", Repeat("(", 400) + "a" + Repeat(")", 400)),
        ("1000 unbalanced parentheses", Repeat("(", 1000)),
        ("200 × OR", Join("x", " OR ", 200)),
        ("333 required terms", Join("+a", " ", 333)),
        ("333 negations", Join("-a", " ", 333)),
        ("operators only", "AND OR NOT AND OR NOT"),
        ("boost overflow", "orleans^99999999999999999999999"),
        ("negative and zero boosts", "orleans^-1 grains^0"),
        ("phrase slop int.MaxValue", "\"token bucket\"~2147483647"),
        ("phrase slop overflow", "\"token bucket\"~99999999999999999999"),
        ("200 backslashes", Repeat("\\", 200)),
        ("quote alone", "\""),
        ("tilde alone", "~"),
        ("slash alone", "/"),
        ("bracket alone", "["),
        ("colon alone", ":"),
        ("caret alone", "^"),
        ("SQL injection", "'; DROP TABLE OrleansStorage; --"),
        ("HTML script", "<script>alert(1)</script>"),
        ("path traversal", "../../../../etc/passwd"),
        ("NoSQL operator", "{\"$ne\": null}"),
        ("emoji, CJK, Arabic, combining marks", "🔥 分布式系统 مرحبا ẗ̈"),
        ("1000 × x", Repeat("x", 1000)),
        ("regex unterminated", "/.*a.{30}"),
        ("regex .{0,1000}", "/.{0,1000}/"),
        ("regex interval <1-1000000000>", "/<1-1000000000>/"),
        ("regex interval overflow", "/<0-99999999999999999999>/"),
        ("regex character classes {1,50}", "/[a-z]{1,50}[0-9]{1,50}[a-z]{1,50}/"),
        ("regex 1000-char alternation", "/" + Repeat("(a|b)", 199) + "/"),
        ("regex 1000-char .*a chain", "/" + Repeat(".*a", 332) + "/"),
        ("regex nested repetition", "/(a|aa)*(b|bb)*c{1,100}/"),
        ("regex intersection", "/(.*a.*)&(.*b.*)&(.*c.{10})/"),
        ("regex anystring complement", "/@&~(@a@)/"),
        ("regex in a field", "title:/.*o.{25}/"),
        ("regex .*a.{30} (2^31-state automaton)", "/.*a.{30}/"),
        ("regex complement of .*a.{20}", "/~(.*a.{20})/"),
    ];

    /// <summary>Every single-request case, in the order they are run.</summary>
    public static IReadOnlyList<HostileCase> Cases { get; } = Build();

    /// <summary>The floods: each sends <see cref="HostileFlood.Beyond"/> more than its limit.</summary>
    public static IReadOnlyList<HostileFlood> Floods { get; } =
    [
        new("job creations beyond MaxJobsPerMinute", HostileFloodKind.Creates, 6),
        new("event streams beyond MaxOpenStreams", HostileFloodKind.Streams, 4),
        new("POST /api/search waits beyond MaxOpenStreams", HostileFloodKind.SyncWaits, 2),
        new("requests of one user beyond Http:PermitsPerMinute", HostileFloodKind.UserRequests, 20),
        new("requests without a key from one address beyond Http:PermitsPerMinutePerAddress", HostileFloodKind.AddressRequests, 20),
    ];

    private static List<HostileCase> Build()
    {
        var cases = new List<HostileCase>();
        void Add(string category, string name, HostileRequest request, HostileExpectation expected) => cases.Add(new(category, name, request, expected));

        // Credentials.
        Add("auth", "no credentials", Anonymous("GET", "/api/search-jobs"), Unauthorized);
        Add("auth", "Basic credentials", Anonymous("GET", "/api/search-jobs", ("Authorization", "Basic YWxpY2U6c2VjcmV0")), Unauthorized);
        Add("auth", "Bearer without a key", Anonymous("GET", "/api/search-jobs", ("Authorization", "Bearer")), Unauthorized);
        Add("auth", "Bearer with a near miss of the caller's key", Anonymous("GET", "/api/search-jobs", ("Authorization", "Bearer {key}x")), Unauthorized);
        Add("auth", "X-Api-Key with a near miss of the caller's key", Anonymous("GET", "/api/search-jobs", ("X-Api-Key", "x{key}")), Unauthorized);
        Add("auth", "Bearer with 10 KB of garbage", Anonymous("GET", "/api/search-jobs", ("Authorization", "Bearer " + Repeat("x%$#", 2560))), Refused);
        Add("auth", "Bearer with a control byte", Anonymous("GET", "/api/search-jobs", ("Authorization", "Bearer \u0001{key}")), Refused);
        Add("auth", "Bearer with 1000 non-ASCII characters", Anonymous("GET", "/api/search-jobs", ("Authorization", "Bearer " + Repeat("ÿ", 1000))), Refused);
        Add("auth", "X-Api-Key of 10 KB", Anonymous("GET", "/api/search-jobs", ("X-Api-Key", Repeat("k", 10_240))), Refused);
        Add("auth", "X-Api-Key with spaces and emoji", Anonymous("GET", "/api/search-jobs", ("X-Api-Key", "ключ 🔑 key")), Refused);
        Add("auth", "two Authorization headers, a wrong one first", Anonymous("GET", "/api/search-jobs", ("Authorization", "Bearer wrong"), ("Authorization", "Bearer {key}")), Refused);
        Add("auth", "GET /metrics as a user without the admin role", Get("/metrics"), Refused);
        Add("auth", "GET /metrics without credentials", Anonymous("GET", "/metrics"), Refused);

        // Job ids: another user's, unknown and malformed ones all answer 404 and reveal nothing.
        Add("ids", "another user's job", Get("/api/search-jobs/{victim}"), NotFound);
        Add("ids", "another user's job's events", Get("/api/search-jobs/{victim}/events", ("Accept", "text/event-stream")), NotFound);
        Add("ids", "another user's job's events with Last-Event-ID", Get("/api/search-jobs/{victim}/events", ("Last-Event-ID", "0")), NotFound);
        Add("ids", "cancel another user's job", Post("/api/search-jobs/{victim}/cancel"), NotFound);
        Add("ids", "another user's job's debug", Get("/api/search-jobs/{victim}/debug"), NotFound);
        Add("ids", "unknown well-formed id", Get("/api/search-jobs/{unknown}"), NotFound);
        Add("ids", "unknown id's events", Get("/api/search-jobs/{unknown}/events"), NotFound);
        Add("ids", "cancel an unknown id", Post("/api/search-jobs/{unknown}/cancel"), NotFound);
        Add("ids", "unknown id's debug", Get("/api/search-jobs/{unknown}/debug"), NotFound);
        Add("ids", "the caller's own id with a suffix", Get("/api/search-jobs/{own}x"), NotFound);
        Add("ids", "encoded path traversal", Get("/api/search-jobs/..%2F..%2F..%2Fetc%2Fpasswd"), NotFound);
        Add("ids", "65 hex digits", Get("/api/search-jobs/" + Repeat("a", 65)), NotFound);
        Add("ids", "4000 characters", Get("/api/search-jobs/" + Repeat("b", 4000)), NotFound);
        Add("ids", "encoded NUL", Get("/api/search-jobs/%00"), Refused);
        Add("ids", "non-ASCII", Get("/api/search-jobs/%E2%98%83"), NotFound);
        Add("ids", "SQL injection", Get("/api/search-jobs/1'%20OR%20'1'%3D'1"), NotFound);
        Add("ids", "events of a malformed id with Last-Event-ID", Get("/api/search-jobs/%2e%2e%2f/events", ("Last-Event-ID", "1")), Refused);

        // List paging: forged cursors and bad parameters.
        Add("cursor", "base64 of garbage", Get("/api/search-jobs?cursor=" + Base64Url("garbage")), Invalid("cursor"));
        Add("cursor", "ticks of long.MaxValue", Get("/api/search-jobs?cursor=" + Base64Url("9223372036854775807:x")), Invalid("cursor"));
        Add("cursor", "ticks just past DateTimeOffset.MaxValue", Get("/api/search-jobs?cursor=" + Base64Url("3155378976000000000:x")), Invalid("cursor"));
        Add("cursor", "negative ticks", Get("/api/search-jobs?cursor=" + Base64Url("-1:x")), Invalid("cursor"));
        Add("cursor", "6 KB of A", Get("/api/search-jobs?cursor=" + Repeat("A", 6144)), Invalid("cursor"));
        Add("cursor", "base64 of 4 KB of high bytes", Get("/api/search-jobs?cursor=" + Base64Url(Enumerable.Range(0, 4096).Select(i => (byte)(0x80 | i % 0x80)).ToArray())), Invalid("cursor"));
        Add("cursor", "not base64", Get("/api/search-jobs?cursor=!!!not-base64"), Invalid("cursor"));
        Add("cursor", "encoded NUL", Get("/api/search-jobs?cursor=%00"), Invalid("cursor"));
        Add("cursor", "given twice", Get("/api/search-jobs?cursor=a&cursor=b"), Refused);
        Add("cursor", "limit=0", Get("/api/search-jobs?limit=0"), Invalid("limit"));
        Add("cursor", "limit=-1", Get("/api/search-jobs?limit=-1"), Invalid("limit"));
        Add("cursor", "limit=99999999999", Get("/api/search-jobs?limit=99999999999"), Invalid("limit"));
        Add("cursor", "limit=abc", Get("/api/search-jobs?limit=abc"), Invalid("limit"));
        Add("cursor", "limit=1e2", Get("/api/search-jobs?limit=1e2"), Invalid("limit"));
        Add("cursor", "status=nope", Get("/api/search-jobs?status=nope"), Invalid("status"));
        Add("cursor", "status=%00", Get("/api/search-jobs?status=%00"), Invalid("status"));

        // Last-Event-ID and Idempotency-Key.
        const string Events = "/api/search-jobs/{own}/events";
        Add("headers", "Last-Event-ID of 10 KB of digits", Get(Events, ("Last-Event-ID", Repeat("9", 10_240))), Refused);
        Add("headers", "Last-Event-ID not a number", Get(Events, ("Last-Event-ID", "abc")), Invalid("Last-Event-ID"));
        Add("headers", "Last-Event-ID negative", Get(Events, ("Last-Event-ID", "-5")), Invalid("Last-Event-ID"));
        Add("headers", "Last-Event-ID overflowing a long", Get(Events, ("Last-Event-ID", "99999999999999999999")), Invalid("Last-Event-ID"));
        Add("headers", "Last-Event-ID in exponent form", Get(Events, ("Last-Event-ID", "1e3")), Invalid("Last-Event-ID"));
        Add("headers", "Last-Event-ID in hex", Get(Events, ("Last-Event-ID", "0x10")), Invalid("Last-Event-ID"));
        Add("headers", "Last-Event-ID with a space inside", Get(Events, ("Last-Event-ID", "12 34")), Invalid("Last-Event-ID"));
        Add("headers", "Last-Event-ID with a control byte", Get(Events, ("Last-Event-ID", "1\u00012")), Refused);
        Add("headers", "lastEventId query parameter negative", Get(Events + "?lastEventId=-1"), Invalid());
        Add("headers", "Idempotency-Key of 10 KB", Post("/api/search-jobs", LocalSpec("idempotency"), ("Idempotency-Key", Repeat("k", 10_240))), Refused);
        Add("headers", "Idempotency-Key with a control byte", Post("/api/search-jobs", LocalSpec("idempotency"), ("Idempotency-Key", "key\u0001x")), Refused);
        Add("headers", "Idempotency-Key with tabs", Post("/api/search-jobs", LocalSpec("idempotency"), ("Idempotency-Key", "key\twith\ttabs")), Invalid("Idempotency-Key"));
        Add("headers", "Idempotency-Key of spaces only", Post("/api/search-jobs", LocalSpec("idempotency"), ("Idempotency-Key", "    ")), Invalid("Idempotency-Key"));
        Add("headers", "Idempotency-Key of 1000 non-ASCII characters", Post("/api/search-jobs", LocalSpec("idempotency"), ("Idempotency-Key", Repeat("é", 1000))), Refused);

        // HTTP itself: sizes, framing and bytes that are not HTTP.
        Add("http", "one header of 40 KB", Get("/api/search-jobs", ("X-Junk", Repeat("j", 40_960))), Refused);
        Add("http", "150 headers", new HostileRequest("GET", "/api/search-jobs") { Headers = Enumerable.Range(0, 150).Select(i => KeyValuePair.Create($"X-Junk-{i}", "1")).ToList() }, Refused);
        Add("http", "64 KB of headers", new HostileRequest("GET", "/api/search-jobs") { Headers = Enumerable.Range(0, 64).Select(i => KeyValuePair.Create($"X-Junk-{i}", Repeat("h", 1000))).ToList() }, Refused);
        Add("http", "request line of 10 KB", Get("/api/search-jobs/" + Repeat("a", 10_240)), Refused);
        Add("http", "no Host header", new HostileRequest("GET", "/api/search-jobs") { OmitHost = true }, Refused);
        Add("http", "header line without a colon", Raw("GET /api/search-jobs HTTP/1.1\r\nHost: {host}\r\n{auth}NoColonHere\r\nConnection: close\r\n\r\n"), Refused);
        Add("http", "NUL in a header name", Raw("GET /api/search-jobs HTTP/1.1\r\nHost: {host}\r\n{auth}X-\0Bad: 1\r\nConnection: close\r\n\r\n"), Refused);
        Add("http", "negative Content-Length", Raw("POST /api/search-jobs HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\nContent-Length: -1\r\nConnection: close\r\n\r\n{}"), Refused);
        Add("http", "Content-Length not a number", Raw("POST /api/search-jobs HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\nContent-Length: abc\r\nConnection: close\r\n\r\n{}"), Refused);
        Add("http", "two different Content-Lengths", Raw("POST /api/search-jobs HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 40\r\nConnection: close\r\n\r\n{}"), Refused);
        Add("http", "invalid chunk size", Raw("POST /api/search-jobs HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"), Refused);
        Add("http", "Content-Length with chunked, smuggling a request", Raw("POST /api/search-jobs HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /api/search-jobs/{victim} HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n"), Refused);
        Add("http", "TLS ClientHello on the HTTP port", Raw("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + Repeat("\xff", 160)), RefusedOrClosed);
        Add("http", "HTTP/0.9 request line", Raw("GET /api/search-jobs\r\n\r\n"), RefusedOrClosed);

        // Content types.
        Add("content-type", "text/plain", Create("""{"query":"a","provider":"local"}""", "text/plain"), Unsupported);
        Add("content-type", "application/xml", Create("<query>a</query>", "application/xml"), Unsupported);
        Add("content-type", "multipart/form-data", Create("--b\r\nContent-Disposition: form-data; name=\"query\"\r\n\r\na\r\n--b--\r\n", "multipart/form-data; boundary=b"), Unsupported);
        Add("content-type", "form-urlencoded", Create("query=a&provider=local", "application/x-www-form-urlencoded"), Unsupported);
        Add("content-type", "none", Create("""{"query":"a","provider":"local"}""", null), Unsupported);
        Add("content-type", "JSON declared UTF-16, sent UTF-16", Post("/api/search-jobs", new HostileBody(Encoding.Latin1.GetString(Encoding.Unicode.GetBytes("""{"query":"a","provider":"local"}"""))) { ContentType = "application/json; charset=utf-16", Latin1 = true }), Refused);

        // JSON that is not a job spec: wrong types.
        Add("types", "pages as a string", Create("""{"query":"a","provider":"local","pages":"3"}"""), Invalid("pages"));
        Add("types", "pages 3.5", Create("""{"query":"a","provider":"local","pages":3.5}"""), Invalid("pages"));
        Add("types", "pages 1e400", Create("""{"query":"a","provider":"local","pages":1e400}"""), Invalid("pages"));
        Add("types", "pages overflowing a long", Create("""{"query":"a","provider":"local","pages":99999999999999999999}"""), Invalid("pages"));
        Add("types", "pages below int.MinValue", Create("""{"query":"a","provider":"local","pages":-2147483649}"""), Invalid("pages"));
        Add("types", "pages true", Create("""{"query":"a","provider":"local","pages":true}"""), Invalid("pages"));
        Add("types", "pages an array", Create("""{"query":"a","provider":"local","pages":[]}"""), Invalid("pages"));
        Add("types", "pages an object", Create("""{"query":"a","provider":"local","pages":{}}"""), Invalid("pages"));
        Add("types", "cache \"yes\"", Create("""{"query":"a","provider":"local","cache":"yes"}"""), Invalid("cache"));
        Add("types", "cache 1", Create("""{"query":"a","provider":"local","cache":1}"""), Invalid("cache"));
        Add("types", "query a number", Create("""{"query":123,"provider":"local"}"""), Invalid("query"));
        Add("types", "query true", Create("""{"query":true,"provider":"local"}"""), Invalid("query"));
        Add("types", "query an array", Create("""{"query":["a"],"provider":"local"}"""), Invalid("query"));
        Add("types", "queries a string", Create("""{"queries":"a","provider":"local"}"""), Invalid("queries"));
        Add("types", "queries an object", Create("""{"queries":{"0":"a"},"provider":"local"}"""), Invalid("queries"));
        Add("types", "queries holding a number", Create("""{"queries":[1],"provider":"local"}"""), Invalid("queries[0]"));
        Add("types", "queries holding an array", Create("""{"queries":[["a"]],"provider":"local"}"""), Invalid("queries[0]"));
        Add("types", "provider a number", Create("""{"query":"a","provider":123}"""), Invalid("provider"));
        Add("types", "provider an array", Create("""{"query":"a","provider":["local"]}"""), Invalid("provider"));
        Add("types", "waitSeconds as a string", Search("""{"query":"a","provider":"local","waitSeconds":"10"}"""), Invalid("waitSeconds"));
        Add("types", "body a string", Create("\"abc\""), Invalid("body"));
        Add("types", "body a number", Create("42"), Invalid("body"));
        Add("types", "body true", Create("true"), Invalid("body"));
        Add("types", "body NaN", Create("NaN"), Invalid("body"));
        Add("types", "trailing garbage", Create("""{"query":"a","provider":"local"} xyz"""), Invalid());
        Add("types", "a comment", Create("""{"query":"a",/* c */"provider":"local"}"""), Invalid());
        Add("types", "trailing comma", Create("""{"query":"a","provider":"local",}"""), Invalid());
        Add("types", "single quotes", Create("""{'query':'a','provider':'local'}"""), Invalid());
        Add("types", "unquoted names", Create("""{query:"a",provider:"local"}"""), Invalid());

        // Unknown members: a typo or an attempt, either way named.
        Add("unknown", "page (a typo of pages)", Create("""{"query":"a","provider":"local","page":3}"""), Invalid("page"));
        Add("unknown", "page before query", Create("""{"page":3,"query":"a","provider":"local"}"""), Invalid("page"));
        Add("unknown", "extra with nested values", Create("""{"query":"a","provider":"local","extra":{"nested":[1,2,{"deep":true}]}}"""), Invalid("extra"));
        Add("unknown", "owner (impersonation)", Create("""{"query":"a","provider":"local","owner":"alice"}"""), Invalid("owner"));
        Add("unknown", "jobId (choosing the id)", Create("""{"query":"a","provider":"local","jobId":"0123456789abcdef0123456789abcdef"}"""), Invalid("jobId"));
        Add("unknown", "status", Create("""{"query":"a","provider":"local","status":"completed"}"""), Invalid("status"));
        Add("unknown", "__proto__", Create("""{"query":"a","provider":"local","__proto__":{"admin":true}}"""), Invalid("__proto__"));
        Add("unknown", "extra on /api/search", Search("""{"query":"a","provider":"local","extra":1}"""), Invalid("extra"));
        Add("unknown", "20,000 repeats of one unknown member", Create("""{"query":"a","provider":"local",""" + Join("\"zz\":0", ",", 20_000) + "}"), Invalid("zz"));
        Add("unknown", "20,000 distinct unknown members", Create("""{"query":"a","provider":"local",""" + string.Join(',', Enumerable.Range(0, 20_000).Select(i => $"\"f{i:00000}\":0")) + "}"), Invalid("f00000"));

        // Duplicate members: which one wins is nobody's business.
        Add("duplicates", "query twice", Create("""{"query":"a","query":"b","provider":"local"}"""), Invalid("query"));
        Add("duplicates", "queries twice", Create("""{"queries":["a"],"queries":["b"],"provider":"local"}"""), Invalid("queries"));
        Add("duplicates", "pages twice", Create("""{"query":"a","provider":"local","pages":1,"pages":10}"""), Invalid("pages"));
        Add("duplicates", "provider twice", Create("""{"query":"a","provider":"local","provider":"web"}"""), Invalid("provider"));
        Add("duplicates", "cache twice", Create("""{"query":"a","provider":"local","cache":true,"cache":false}"""), Invalid("cache"));
        Add("duplicates", "query and QUERY", Create("""{"query":"a","QUERY":"b","provider":"local"}"""), Invalid());
        Add("duplicates", "1000 × query", Create("{" + Join("\"query\":\"a\"", ",", 1000) + ",\"provider\":\"local\"}"), Invalid("query"));
        Add("duplicates", "query twice on /api/search", Search("""{"query":"a","query":"b","provider":"local"}"""), Invalid("query"));

        // Control characters in text.
        Add("control", "query with NUL", Create("""{"query":"a\u0000b","provider":"local"}"""), Invalid("query"));
        Add("control", "query with SOH", Create("""{"query":"\u0001","provider":"local"}"""), Invalid("query"));
        Add("control", "query with BEL", Create("""{"query":"ring\u0007","provider":"local"}"""), Invalid("query"));
        Add("control", "query with backspace", Create("""{"query":"abc\b\b\bxyz","provider":"local"}"""), Invalid("query"));
        Add("control", "query with an ANSI escape", Create("""{"query":"\u001b[2J\u001b[31mred","provider":"local"}"""), Invalid("query"));
        Add("control", "query with CR LF and a header", Create("""{"query":"a\r\nX-Injected: 1","provider":"local"}"""), Invalid("query"));
        Add("control", "query with DEL", Create("""{"query":"a\u007f","provider":"local"}"""), Invalid("query"));
        Add("control", "query with a C1 control (NEL)", Create("""{"query":"a\u0085b","provider":"local"}"""), Invalid("query"));
        Add("control", "queries[1] with NUL", Create("""{"queries":["ok","b\u0000"],"provider":"local"}"""), Invalid("queries[1]"));
        Add("control", "queries[49] with NUL", Create("{\"queries\":[" + Join("\"ok\"", ",", 49) + ",\"\\u0000\"],\"provider\":\"local\"}"), Invalid("queries[49]"));
        Add("control", "provider with NUL", Create("""{"query":"a","provider":"loc\u0000al"}"""), Invalid("provider"));
        Add("control", "provider with a newline", Create("""{"query":"a","provider":"local\n"}"""), Invalid("provider"));
        Add("control", "query with NUL on /api/search", Search("""{"query":"a\u0000b","provider":"local"}"""), Invalid("query"));
        Add("control", "a raw control byte inside a string", Create("{\"query\":\"a\u0001b\",\"provider\":\"local\"}"), Invalid());
        Add("control", "bytes that are not UTF-8", Post("/api/search-jobs", new HostileBody("{\"query\":\"\xc3\x28\xff\xfe\",\"provider\":\"local\"}") { Latin1 = true }), Invalid());
        Add("control", "a lone surrogate", Create("""{"query":"a\ud800b","provider":"local"}"""), Invalid());

        // Nesting.
        Add("nesting", "5,000 nested arrays in an unknown member", Create("""{"query":"a","provider":"local","x":""" + Repeat("[", 5000) + Repeat("]", 5000) + "}"), Invalid());
        Add("nesting", "100,000 nested arrays as the body", Create(Repeat("[", 100_000) + Repeat("]", 100_000)), Invalid());
        Add("nesting", "20,000 nested objects", Create(Repeat("{\"a\":", 20_000) + "1" + Repeat("}", 20_000)), Invalid());
        Add("nesting", "10,000 nested arrays as queries", Create("{\"queries\":" + Repeat("[", 10_000) + Repeat("]", 10_000) + "}"), Invalid());
        Add("nesting", "1000 nested objects as query", Create(Repeat("{\"query\":", 1001) + "\"a\"" + Repeat("}", 1001)), Invalid());

        // Sizes: over Http:MaxBodyBytes is 413 however the body is framed; at it, the spec is judged on its merits.
        Add("size", "300 KB query with Content-Length", Huge("/api/search-jobs", "{\"query\":\"", "a", 300_000, "\"}", HostileFraming.ContentLength), TooLarge);
        Add("size", "300 KB query chunked", Huge("/api/search-jobs", "{\"query\":\"", "a", 300_000, "\"}", HostileFraming.Chunked), TooLarge);
        Add("size", "300 KB query to /api/search with Content-Length", Huge("/api/search", "{\"query\":\"", "a", 300_000, "\"}", HostileFraming.ContentLength), TooLarge);
        Add("size", "300 KB query to /api/search chunked", Huge("/api/search", "{\"query\":\"", "a", 300_000, "\"}", HostileFraming.Chunked), TooLarge);
        Add("size", "27 MB of \"\" entries with Content-Length", Huge("/api/search-jobs", "{\"queries\":[", "\"\",", 9_000_000, "\"\"]}", HostileFraming.ContentLength), TooLarge);
        Add("size", "27 MB of \"\" entries chunked", Huge("/api/search-jobs", "{\"queries\":[", "\"\",", 9_000_000, "\"\"]}", HostileFraming.Chunked), TooLarge);
        Add("size", "27 MB of \"\" entries to /api/search chunked", Huge("/api/search", "{\"queries\":[", "\"\",", 9_000_000, "\"\"]}", HostileFraming.Chunked), TooLarge);
        Add("size", "one byte over the limit", Huge("/api/search-jobs", "{\"query\":\"", "a", MaxBodyBytes - 11, "\"}", HostileFraming.ContentLength), TooLarge);
        Add("size", "one byte over the limit, chunked", Huge("/api/search-jobs", "{\"query\":\"", "a", MaxBodyBytes - 11, "\"}", HostileFraming.Chunked), TooLarge);
        Add("size", "300 KB of whitespace before a valid spec", Huge("/api/search-jobs", "", " ", 300_000, "{\"query\":\"a\",\"provider\":\"local\"}", HostileFraming.ContentLength), TooLarge);
        Add("size", "Content-Length claiming 1 GB", Post("/api/search-jobs", new HostileBody("""{"query":"a","provider":"local"}""") { ClaimedLength = 1_000_000_000 }), TooLarge);
        Add("size", "10 MB of [ chunked", Huge("/api/search-jobs", "", "[", 10_000_000, "", HostileFraming.Chunked), Refused);
        Add("size", "exactly at the limit: a 256 KB query is judged, not refused", Huge("/api/search-jobs", "{\"query\":\"", "a", MaxBodyBytes - 12, "\"}", HostileFraming.ContentLength), Invalid("query"));
        Add("size", "50 queries of 5000 characters", Create(JsonSerializer.Serialize(new { queries = Enumerable.Repeat(Repeat("q", 5000), 50), provider = "local" }, Json)), Invalid("queries[0]"));

        // Lucene syntax as query text: valid specs, to be accepted and completed without blowing up. The worst come last.
        Add("lucene", "match all, 10 pages", Create(JsonSerializer.Serialize(new { query = "*:*", provider = "local", pages = 10 }, Json)), Accepted);
        foreach (var (name, text) in LuceneBombs)
        {
            Add("lucene", name, Create(LocalSpec(text)), Accepted);
        }
        Add("lucene", "50 bombs in one job", Create(JsonSerializer.Serialize(new { queries = LuceneBombs.Select(b => b.Text).Reverse().Take(50), provider = "local" }, Json)), Accepted);
        return cases;
    }

    private static HostileExpectation Invalid(string? field = null) => new() { Status = 400, Problem = true, Field = field };

    private static string LocalSpec(string query) => JsonSerializer.Serialize(new { query, provider = "local" }, Json);

    private static HostileRequest Get(string target, params (string Name, string Value)[] headers) =>
        new("GET", target) { Headers = Pairs(headers) };

    private static HostileRequest Anonymous(string method, string target, params (string Name, string Value)[] headers) =>
        new(method, target) { Headers = Pairs(headers), Credentials = HostileCredentials.None };

    private static HostileRequest Post(string target, params (string Name, string Value)[] headers) =>
        new("POST", target) { Headers = Pairs(headers) };

    private static HostileRequest Post(string target, string json, params (string Name, string Value)[] headers) =>
        new("POST", target) { Body = new HostileBody(json), Headers = Pairs(headers) };

    private static HostileRequest Post(string target, HostileBody body) => new("POST", target) { Body = body };

    private static HostileRequest Create(string json, string? contentType = "application/json") =>
        new("POST", "/api/search-jobs") { Body = new HostileBody(json) { ContentType = contentType } };

    private static HostileRequest Search(string json) => new("POST", "/api/search") { Body = new HostileBody(json) };

    private static HostileRequest Huge(string target, string prefix, string unit, long times, string suffix, HostileFraming framing) =>
        new("POST", target) { Body = new HostileBody(prefix, unit, times, suffix) { Framing = framing } };

    private static HostileRequest Raw(string bytes) => new("RAW", "") { Raw = bytes };

    private static List<KeyValuePair<string, string>> Pairs((string Name, string Value)[] headers) =>
        headers.Select(h => KeyValuePair.Create(h.Name, h.Value)).ToList();

    private static string Repeat(string unit, int times) => string.Concat(Enumerable.Repeat(unit, times));

    private static string Join(string unit, string separator, int times) => string.Join(separator, Enumerable.Repeat(unit, times));

    private static string Base64Url(string text) => Base64Url(Encoding.UTF8.GetBytes(text));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
