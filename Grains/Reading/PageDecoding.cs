using System.Text;
using System.Text.RegularExpressions;

namespace Orleans.Search.Reading;

/// <summary>
/// Picks a page's character encoding the way browsers do, in order: a byte-order mark, the <c>charset</c> of the
/// Content-Type header, a <c>&lt;meta&gt;</c> in the first 4 KB, then UTF-8 if the bytes are valid UTF-8, else
/// Windows-1252. Labels are read as the WHATWG Encoding standard reads them (ISO-8859-1 and ASCII mean Windows-1252).
/// </summary>
public static partial class PageDecoding
{
    static PageDecoding()
    {
        // Windows-1252 and the other code pages are not in .NET's default set.
        Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
        Windows1252 = Encoding.GetEncoding(1252);
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static Encoding Windows1252 { get; }

    public static string Decode(byte[] body, string? headerCharset, bool html, out Encoding encoding)
    {
        var span = body.AsSpan();
        if (span.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            encoding = Encoding.UTF8;
            return Encoding.UTF8.GetString(span[3..]);
        }
        if (span.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE]))
        {
            encoding = Encoding.Unicode;
            return Encoding.Unicode.GetString(span[2..]);
        }
        if (span.StartsWith((ReadOnlySpan<byte>)[0xFE, 0xFF]))
        {
            encoding = Encoding.BigEndianUnicode;
            return Encoding.BigEndianUnicode.GetString(span[2..]);
        }
        encoding = FromLabel(headerCharset)
            ?? (html ? FromLabel(MetaCharset(span[..Math.Min(span.Length, 4096)])) : null)
            ?? (IsUtf8(span) ? Encoding.UTF8 : Windows1252);
        return encoding.GetString(span);
    }

    private static bool IsUtf8(ReadOnlySpan<byte> bytes)
    {
        // A body cut at MaxBytes may end inside a character: judge what comes before the last few bytes.
        var judged = bytes.Length > 4 ? bytes[..^4] : bytes;
        try
        {
            StrictUtf8.GetCharCount(judged);
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }

    private static string? MetaCharset(ReadOnlySpan<byte> head)
    {
        var text = Encoding.Latin1.GetString(head);
        var match = MetaCharsetPattern().Match(text);
        return match.Success ? match.Groups[1].Value : null;
    }

    internal static Encoding? FromLabel(string? label)
    {
        if (string.IsNullOrWhiteSpace(label))
        {
            return null;
        }
        var name = label.Trim().Trim('"', '\'').ToLowerInvariant();
        switch (name)
        {
            case "iso-8859-1" or "latin1" or "l1" or "us-ascii" or "ascii" or "cp1252" or "windows-1252" or "iso8859-1" or "iso_8859-1":
                return Windows1252;
            case "utf-16" or "utf-16le" or "utf-16be" or "unicode":
                // A page that says UTF-16 in ASCII-compatible bytes is not UTF-16 (WHATWG: read as UTF-8).
                return Encoding.UTF8;
            case "utf8" or "utf-8" or "unicode-1-1-utf-8":
                return Encoding.UTF8;
        }
        try
        {
            return Encoding.GetEncoding(name);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    [GeneratedRegex("""<meta[^>]{0,512}?charset\s*=\s*["']?\s*([A-Za-z0-9_:.\-]{1,40})""", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
    private static partial Regex MetaCharsetPattern();
}
