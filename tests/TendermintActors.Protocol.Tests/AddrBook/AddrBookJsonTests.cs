using TendermintActors.Protocol.AddrBook;
using TendermintActors.Protocol.Identity;
using static TendermintActors.Protocol.Tests.AddrBook.AddrBookTestKit;

namespace TendermintActors.Protocol.Tests.AddrBook;

public sealed class AddrBookJsonTests
{
    private const string GoFile = """
        {
        	"key": "6c2c6f0b3d1e9a8b7c6d5e4f",
        	"addrs": [
        		{
        			"addr": {
        				"id": "0ab3c1dd1f1e7e3f5d76a4d6c0e1f2a3b4c5d6e7",
        				"ip": "95.217.10.20",
        				"port": 26656
        			},
        			"src": {
        				"id": "1ab3c1dd1f1e7e3f5d76a4d6c0e1f2a3b4c5d6e7",
        				"ip": "51.15.1.2",
        				"port": 26656
        			},
        			"buckets": [
        				17,
        				203
        			],
        			"attempts": 2,
        			"bucket_type": 1,
        			"last_attempt": "2024-04-30T09:15:42.123456789Z",
        			"last_success": "0001-01-01T00:00:00Z",
        			"last_ban_time": "0001-01-01T00:00:00Z"
        		},
        		{
        			"addr": {
        				"id": "2ab3c1dd1f1e7e3f5d76a4d6c0e1f2a3b4c5d6e7",
        				"ip": "2a01:4f9:3a:1234::2",
        				"port": 26656
        			},
        			"src": {
        				"id": "2ab3c1dd1f1e7e3f5d76a4d6c0e1f2a3b4c5d6e7",
        				"ip": "2a01:4f9:3a:1234::2",
        				"port": 26656
        			},
        			"buckets": [
        				42
        			],
        			"attempts": 0,
        			"bucket_type": 2,
        			"last_attempt": "2024-04-30T11:00:00.5+02:00",
        			"last_success": "2024-04-30T11:00:00.5+02:00",
        			"last_ban_time": "0001-01-01T00:00:00Z"
        		}
        	]
        }
        """;

    [Fact]
    public void A_book_written_by_Go_must_be_read()
    {
        var book = AddrBookJson.Deserialize(GoFile, routabilityStrict: true, new Random(1));

        Assert.Equal("6c2c6f0b3d1e9a8b7c6d5e4f", book.Key);
        Assert.Equal((2, 1, 1), (book.Size, book.NewCount, book.OldCount));

        var fresh = book.Get(NodeId.Parse("0ab3c1dd1f1e7e3f5d76a4d6c0e1f2a3b4c5d6e7"))!;
        Assert.Equal("95.217.10.20", fresh.Addr.Host);
        Assert.Equal(26656, fresh.Addr.Port);
        Assert.Equal("51.15.1.2", fresh.Src.Host);
        Assert.Equal(BucketType.New, fresh.BucketType);
        Assert.Equal([17, 203], fresh.Buckets);
        Assert.Equal(2, fresh.Attempts);
        Assert.Equal(new DateTime(2024, 4, 30, 9, 15, 42, DateTimeKind.Utc).AddTicks(1234567), fresh.LastAttempt);
        Assert.Equal(DateTime.MinValue, fresh.LastSuccess);
        Assert.Equal(DateTime.MinValue, fresh.LastBanTime);
        Assert.Contains(fresh, book.Bucket(BucketType.New, 17));
        Assert.Contains(fresh, book.Bucket(BucketType.New, 203));

        var good = book.Get(NodeId.Parse("2ab3c1dd1f1e7e3f5d76a4d6c0e1f2a3b4c5d6e7"))!;
        Assert.Equal("2a01:4f9:3a:1234::2", good.Addr.Host);
        Assert.Equal(BucketType.Old, good.BucketType);
        Assert.Equal(new DateTime(2024, 4, 30, 9, 0, 0, 500, DateTimeKind.Utc), good.LastSuccess);
        Assert.Contains(good, book.Bucket(BucketType.Old, 42));
        Assert.True(book.IsGood(good.Addr));
    }

    [Fact]
    public void Serialize_must_write_Gos_field_names_and_times()
    {
        var book = AddrBookJson.Deserialize(GoFile, routabilityStrict: true, new Random(1));
        var json = AddrBookJson.Serialize(book);
        foreach (var field in new[] { "\"key\"", "\"addrs\"", "\"addr\"", "\"src\"", "\"buckets\"", "\"attempts\"", "\"bucket_type\"", "\"last_attempt\"", "\"last_success\"", "\"last_ban_time\"", "\"id\"", "\"ip\"", "\"port\"" })
            Assert.Contains(field, json);
        Assert.Contains("\"0001-01-01T00:00:00Z\"", json);
        Assert.Contains("\"2024-04-30T09:15:42.1234567Z\"", json);
        Assert.Contains("\"2024-04-30T09:00:00.5Z\"", json);
    }

    [Fact]
    public void A_book_must_survive_a_round_trip()
    {
        var book = NewBook();
        var src = Addr("9.9.9.9");
        var fresh = Addr("8.8.8.8");
        var good = Addr("2a01:4f9::1", 26657);
        var tried = Addr("8.9.8.8");
        book.AddAddress(fresh, src, T0);
        for (var i = 0; i < 200 && book.Get(fresh.Id)!.Buckets.Count < 2; i++)
            book.AddAddress(fresh, Addr($"{60 + i / 100}.{i % 100}.1.1"), T0);
        book.AddAddress(good, src, T0);
        book.MarkGood(good.Id, T0.AddTicks(1234567));
        book.AddAddress(tried, src, T0);
        book.MarkAttempt(tried, T0.AddMinutes(3));

        var copy = AddrBookJson.Deserialize(AddrBookJson.Serialize(book), routabilityStrict: true, new Random(1));

        Assert.Equal(book.Key, copy.Key);
        Assert.Equal((book.Size, book.NewCount, book.OldCount), (copy.Size, copy.NewCount, copy.OldCount));
        Assert.Equal(2, copy.Get(fresh.Id)!.Buckets.Count);
        foreach (var ka in book.KnownAddresses)
        {
            var other = copy.Get(ka.Id)!;
            Assert.Equal(ka.Addr, other.Addr);
            Assert.Equal(ka.Src, other.Src);
            Assert.Equal(ka.Buckets, other.Buckets);
            Assert.Equal(ka.BucketType, other.BucketType);
            Assert.Equal(ka.Attempts, other.Attempts);
            Assert.Equal(ka.LastAttempt, other.LastAttempt);
            Assert.Equal(ka.LastSuccess, other.LastSuccess);
            Assert.Equal(ka.LastBanTime, other.LastBanTime);
        }
        // The same key places new addresses exactly where the original would.
        var next = Addr("77.1.2.3");
        Assert.Equal(book.NewBucketIndex(next, src), copy.NewBucketIndex(next, src));
    }

    [Fact]
    public void An_empty_book_must_round_trip()
    {
        var book = AddressBook.CreateNew(true, new Random(4));
        Assert.Equal(24, book.Key.Length);
        var copy = AddrBookJson.Deserialize(AddrBookJson.Serialize(book), true, new Random(4));
        Assert.Equal(book.Key, copy.Key);
        Assert.Equal(0, copy.Size);
        Assert.Equal(0, AddrBookJson.Deserialize("""{"key":"abc","addrs":null}""", true, new Random(1)).Size);
    }

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("[]", "not a JSON object")]
    [InlineData("""{"addrs":[]}""", "no 'key'")]
    [InlineData("""{"key":"","addrs":[]}""", "empty key")]
    [InlineData("""{"key":"k","addrs":{}}""", "not an array")]
    public void A_corrupt_file_must_say_what_is_wrong(string json, string expected)
    {
        var e = Assert.Throws<AddrBookFileCorruptException>(() => AddrBookJson.Deserialize(json, true, new Random(1)));
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("\"bucket_type\": 1", "\"bucket_type\": 3", "bucket_type 3")]
    [InlineData("17,", "256,", "bucket 256")]
    [InlineData("\"buckets\": [\n\t\t\t\t42\n\t\t\t]", "\"buckets\": [1, 2]", "exactly one bucket")]
    [InlineData("\"ip\": \"95.217.10.20\"", "\"ip\": \"seed.example.com\"", "not an IP address")]
    [InlineData("\"id\": \"0ab3", "\"id\": \"zzb3", "not a hex digit")]
    [InlineData("\"attempts\": 2", "\"attempts\": \"two\"", "'attempts' is not an integer")]
    [InlineData("\"last_attempt\": \"2024-04-30T09:15:42.123456789Z\"", "\"last_attempt\": \"yesterday\"", "not an RFC3339 time")]
    [InlineData("\"2ab3c1dd1f1e7e3f5d76a4d6c0e1f2a3b4c5d6e7\",\n\t\t\t\t\"ip\": \"2a01", "\"0ab3c1dd1f1e7e3f5d76a4d6c0e1f2a3b4c5d6e7\",\n\t\t\t\t\"ip\": \"2a01", "appears twice")]
    public void A_corrupt_entry_must_name_the_entry_and_the_problem(string from, string to, string expected)
    {
        var json = GoFile.Replace("\r\n", "\n");
        Assert.Contains(from, json);
        var e = Assert.Throws<AddrBookFileCorruptException>(() =>
            AddrBookJson.Deserialize(ReplaceFirst(json, from, to), true, new Random(1)));
        Assert.Contains(expected, e.Message);
        Assert.Contains("addrs[", e.Message);
    }

    private static string ReplaceFirst(string text, string from, string to)
    {
        var at = text.IndexOf(from, StringComparison.Ordinal);
        return text[..at] + to + text[(at + from.Length)..];
    }
}
