using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using TendermintActors.Protocol.Identity;

namespace TendermintActors.Protocol.AddrBook;

/// <summary>The address book file could not be read; the message says what is wrong and where.</summary>
public sealed class AddrBookFileCorruptException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The address book file in Go's format (docs/protocol.md §8), so a book written by a Go node can be taken over and
/// ours read by Go. A pure codec: reading and writing the file, and what to do with a bad one, is the caller's.
/// </summary>
public static class AddrBookJson
{
    private static readonly JsonWriterOptions WriterOptions = new() { Indented = true };

    public static string Serialize(AddressBook book)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("key", book.Key);
            writer.WriteStartArray("addrs");
            foreach (var ka in book.KnownAddresses)
            {
                writer.WriteStartObject();
                writer.WritePropertyName("addr");
                WriteAddress(writer, ka.Addr);
                writer.WritePropertyName("src");
                WriteAddress(writer, ka.Src);
                writer.WriteStartArray("buckets");
                foreach (var index in ka.Buckets)
                    writer.WriteNumberValue(index);
                writer.WriteEndArray();
                writer.WriteNumber("attempts", ka.Attempts);
                writer.WriteNumber("bucket_type", (byte)ka.BucketType);
                writer.WriteString("last_attempt", FormatTime(ka.LastAttempt));
                writer.WriteString("last_success", FormatTime(ka.LastSuccess));
                writer.WriteString("last_ban_time", FormatTime(ka.LastBanTime));
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Reads a book file; <paramref name="random"/> is the new book's (see <see cref="AddressBook"/>).</summary>
    /// <exception cref="AddrBookFileCorruptException">The text is not a valid book file.</exception>
    public static AddressBook Deserialize(string json, bool routabilityStrict, Random random)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new AddrBookFileCorruptException($"address book file is not valid JSON: {e.Message}", e);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new AddrBookFileCorruptException("address book file is not a JSON object");
            var key = GetString(root, "key", "address book");
            if (key.Length == 0)
                throw new AddrBookFileCorruptException("address book file has an empty key");
            var book = new AddressBook(key, routabilityStrict, random);
            if (!root.TryGetProperty("addrs", out var addrs) || addrs.ValueKind == JsonValueKind.Null)
                return book;
            if (addrs.ValueKind != JsonValueKind.Array)
                throw new AddrBookFileCorruptException("address book file: 'addrs' is not an array");
            var i = 0;
            foreach (var entry in addrs.EnumerateArray())
            {
                var where = $"addrs[{i++}]";
                var ka = ReadKnownAddress(entry, where);
                if (book.Get(ka.Id) is not null)
                    throw new AddrBookFileCorruptException($"address book file: {where}: node ID {ka.Id} appears twice");
                book.Restore(ka);
            }
            return book;
        }
    }

    private static KnownAddress ReadKnownAddress(JsonElement entry, string where)
    {
        if (entry.ValueKind != JsonValueKind.Object)
            throw Corrupt(where, "is not an object");
        var addr = ReadAddress(Get(entry, "addr", where), $"{where}.addr");
        var src = ReadAddress(Get(entry, "src", where), $"{where}.src");
        var typeValue = GetInt(entry, "bucket_type", where);
        if (typeValue is not ((int)BucketType.New or (int)BucketType.Old))
            throw Corrupt(where, $"bucket_type {typeValue} is neither 1 (new) nor 2 (old)");
        var type = (BucketType)typeValue;
        var ka = new KnownAddress(addr, src, GetTime(entry, "last_attempt", where))
        {
            Attempts = GetInt(entry, "attempts", where),
            BucketType = type,
            LastSuccess = GetTime(entry, "last_success", where),
            LastBanTime = GetTime(entry, "last_ban_time", where),
        };
        var buckets = Get(entry, "buckets", where);
        if (buckets.ValueKind != JsonValueKind.Array)
            throw Corrupt(where, "'buckets' is not an array");
        var count = type == BucketType.New ? AddressBook.NewBucketCount : AddressBook.OldBucketCount;
        foreach (var b in buckets.EnumerateArray())
        {
            if (b.ValueKind != JsonValueKind.Number || !b.TryGetInt32(out var index) || index < 0 || index >= count)
                throw Corrupt(where, $"bucket {b.GetRawText()} is not a {type.ToString().ToLowerInvariant()} bucket index (0-{count - 1})");
            if (ka.BucketList.Contains(index))
                throw Corrupt(where, $"bucket {index} is listed twice");
            ka.BucketList.Add(index);
        }
        if (ka.BucketList.Count == 0)
            throw Corrupt(where, "is in no bucket");
        if (type == BucketType.Old && ka.BucketList.Count != 1)
            throw Corrupt(where, $"an old address is in exactly one bucket, not {ka.BucketList.Count}");
        if (type == BucketType.New && ka.BucketList.Count > AddressBook.MaxNewBucketsPerAddress)
            throw Corrupt(where, $"a new address is in at most {AddressBook.MaxNewBucketsPerAddress} buckets, not {ka.BucketList.Count}");
        return ka;
    }

    private static void WriteAddress(Utf8JsonWriter writer, NetAddress addr)
    {
        writer.WriteStartObject();
        writer.WriteString("id", addr.Id.Hex);
        writer.WriteString("ip", addr.Ip?.ToString() ?? addr.Host);
        writer.WriteNumber("port", addr.Port);
        writer.WriteEndObject();
    }

    private static NetAddress ReadAddress(JsonElement element, string where)
    {
        if (element.ValueKind != JsonValueKind.Object)
            throw Corrupt(where, "is not an object");
        var idText = GetString(element, "id", where);
        if (!NodeId.TryParse(idText, out var id, out var idError))
            throw Corrupt(where, idError);
        var ipText = GetString(element, "ip", where);
        if (!IPAddress.TryParse(ipText, out var ip))
            throw Corrupt(where, $"ip '{ipText}' is not an IP address");
        var port = GetInt(element, "port", where);
        if (port is < 0 or > ushort.MaxValue)
            throw Corrupt(where, $"port {port} is out of range");
        return new NetAddress(id, ip, port);
    }

    /// <summary>Go's RFC3339Nano: UTC as "Z", fraction without trailing zeros, zero time as year 1.</summary>
    internal static string FormatTime(DateTime time)
    {
        var utc = time.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(time, DateTimeKind.Utc) : time.ToUniversalTime();
        var text = utc.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture);
        var ticks = utc.Ticks % TimeSpan.TicksPerSecond;
        if (ticks != 0)
            text += "." + ticks.ToString("D7", CultureInfo.InvariantCulture).TrimEnd('0');
        return text + "Z";
    }

    /// <summary>RFC3339 with any offset and up to nanoseconds (Go writes 9 digits; .NET keeps 7, so the rest is dropped).</summary>
    internal static bool TryParseTime(string text, out DateTime time)
    {
        time = default;
        var dot = text.IndexOf('.');
        if (dot > 0)
        {
            var end = dot + 1;
            while (end < text.Length && char.IsAsciiDigit(text[end]))
                end++;
            if (end - dot - 1 > 7)
                text = text[..(dot + 8)] + text[end..];
        }
        if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var parsed)
            || text.Length < 20 || text[10] is not ('T' or 't'))
            return false;
        time = parsed.UtcDateTime;
        return true;
    }

    private static JsonElement Get(JsonElement obj, string name, string where) =>
        obj.TryGetProperty(name, out var value) ? value : throw Corrupt(where, $"has no '{name}'");

    private static string GetString(JsonElement obj, string name, string where)
    {
        var value = Get(obj, name, where);
        return value.ValueKind == JsonValueKind.String ? value.GetString()! : throw Corrupt(where, $"'{name}' is not a string");
    }

    private static int GetInt(JsonElement obj, string name, string where)
    {
        var value = Get(obj, name, where);
        return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var n)
            ? n
            : throw Corrupt(where, $"'{name}' is not an integer");
    }

    private static DateTime GetTime(JsonElement obj, string name, string where)
    {
        var text = GetString(obj, name, where);
        return TryParseTime(text, out var time) ? time : throw Corrupt(where, $"'{name}' '{text}' is not an RFC3339 time");
    }

    private static AddrBookFileCorruptException Corrupt(string where, string what) =>
        new($"address book file: {where} {what}");
}
