using System.Net;
using TendermintActors.Protocol.AddrBook;
using TendermintActors.Protocol.Identity;

namespace TendermintActors.Protocol.Tests.AddrBook;

internal static class AddrBookTestKit
{
    public static readonly DateTime T0 = new(2024, 5, 1, 12, 0, 0, DateTimeKind.Utc);

    public const string Key = "0123456789abcdef01234567";

    public static AddressBook NewBook(bool strict = true, int seed = 1) => new(Key, strict, new Random(seed));

    private static int _next;

    public static NodeId NewId()
    {
        var bytes = new byte[NodeId.ByteLength];
        BitConverter.GetBytes(Interlocked.Increment(ref _next)).CopyTo(bytes, 0);
        bytes[19] = 0xaa;
        return NodeId.Parse(Convert.ToHexStringLower(bytes));
    }

    public static NetAddress Addr(string ip, int port = 26656) => new(NewId(), IPAddress.Parse(ip), port);

    /// <summary>n public addresses, each in its own /16, each its own source.</summary>
    public static AddressBook BookOf(int n, bool strict = true)
    {
        var book = NewBook(strict);
        for (var i = 0; i < n; i++)
        {
            var a = Addr($"{20 + i / 250}.{i % 250}.1.1");
            book.AddAddress(a, a, T0);
        }
        return book;
    }
}
