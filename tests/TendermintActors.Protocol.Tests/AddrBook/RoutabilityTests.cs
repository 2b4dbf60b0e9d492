using System.Net;
using TendermintActors.Protocol.AddrBook;
using TendermintActors.Protocol.Identity;
using static TendermintActors.Protocol.Tests.AddrBook.AddrBookTestKit;

namespace TendermintActors.Protocol.Tests.AddrBook;

public sealed class RoutabilityTests
{
    [Theory]
    [InlineData("10.1.2.3", "RFC1918")]
    [InlineData("172.16.0.1", "RFC1918")]
    [InlineData("172.31.255.254", "RFC1918")]
    [InlineData("192.168.1.1", "RFC1918")]
    [InlineData("169.254.1.1", "RFC3927")]
    [InlineData("fe80::1", "RFC4862")]
    [InlineData("fc00::1", "RFC4193")]
    [InlineData("fd12:3456::1", "RFC4193")]
    [InlineData("2001:10::1", "RFC4843")]
    [InlineData("2001:1f::1", "RFC4843")]
    [InlineData("127.0.0.1", "loopback")]
    [InlineData("::1", "loopback")]
    [InlineData("0.1.2.3", "0.0.0.0/8")]
    public void Strict_mode_must_refuse_what_is_not_routable_and_lax_mode_take_it(string ip, string reason)
    {
        var addr = Addr(ip);
        var src = Addr("9.9.9.9");
        var refused = Assert.IsType<AddResult.Refused>(NewBook(strict: true).AddAddress(addr, src, T0));
        Assert.Contains(reason, refused.Reason);
        Assert.IsType<AddResult.Added>(NewBook(strict: false).AddAddress(addr, src, T0));
    }

    [Theory]
    [InlineData("172.15.255.255")]
    [InlineData("172.32.0.1")]
    [InlineData("11.0.0.1")]
    [InlineData("192.169.0.1")]
    [InlineData("169.253.1.1")]
    [InlineData("fe80:0:0:1::1")]
    [InlineData("fe00::1")]
    [InlineData("2001:20::1")]
    [InlineData("2001:4860::8888")]
    [InlineData("1.0.0.1")]
    public void Strict_mode_must_take_routable_neighbours_of_the_ranges(string ip) =>
        Assert.IsType<AddResult.Added>(NewBook(strict: true).AddAddress(Addr(ip), Addr("9.9.9.9"), T0));

    [Theory]
    [InlineData("0.0.0.0", "unspecified")]
    [InlineData("::", "unspecified")]
    [InlineData("255.255.255.255", "broadcast")]
    [InlineData("2001:db8::1", "RFC3849")]
    [InlineData("2001:db8:ffff::1", "RFC3849")]
    public void Invalid_ips_must_be_refused_in_both_modes(string ip, string reason)
    {
        foreach (var strict in new[] { true, false })
        {
            var refused = Assert.IsType<AddResult.Refused>(NewBook(strict).AddAddress(Addr(ip), Addr("9.9.9.9"), T0));
            Assert.Contains(reason, refused.Reason);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Identity_and_policy_refusals_must_hold_in_both_modes(bool strict)
    {
        var src = Addr("9.9.9.9");

        var noId = new NetAddress(default, IPAddress.Parse("8.8.8.8"), 26656);
        Assert.Contains("node ID", Refused(NewBook(strict), noId, src));

        var dns = new NetAddress(NewId(), "seed.example.com", 26656);
        Assert.Contains("no IP", Refused(NewBook(strict), dns, src));

        var ours = Addr("8.8.8.8");
        var book = NewBook(strict);
        book.AddOurAddress(ours);
        Assert.True(book.OurAddress(ours));
        Assert.Contains("our own", Refused(book, ours, src));

        var banned = Addr("8.8.8.8");
        book = NewBook(strict);
        book.AddAddress(banned, src, T0);
        book.MarkBad(banned, TimeSpan.FromHours(1), T0);
        Assert.Contains("banned", Refused(book, banned, src));

        var privateAddr = Addr("8.8.8.8");
        var privateSrc = Addr("7.7.7.7");
        book = NewBook(strict);
        book.SetPrivateIDs([privateAddr.Id, privateSrc.Id]);
        Assert.Contains("private", Refused(book, privateAddr, src));
        Assert.Contains("source", Refused(book, Addr("8.8.4.4"), privateSrc));
        Assert.Equal(0, book.Size);
    }

    private static string Refused(AddressBook book, NetAddress addr, NetAddress src) =>
        Assert.IsType<AddResult.Refused>(book.AddAddress(addr, src, T0)).Reason;

    [Theory]
    [InlineData("1.2.3.4", true, "1.2.0.0")]
    [InlineData("1.2.200.9", false, "1.2.0.0")]
    [InlineData("::ffff:1.2.3.4", true, "1.2.0.0")]
    [InlineData("2001:4860:1:2::1", true, "2001:4860::")]
    [InlineData("2001:470:1234::1", true, "2001:470:1000::")]
    [InlineData("2001:470:f234::1", true, "2001:470:f000::")]
    [InlineData("2002:0102:0304::1", true, "1.2.0.0")]
    [InlineData("64:ff9b::102:304", true, "1.2.0.0")]
    [InlineData("::ffff:0:102:304", true, "1.2.0.0")]
    [InlineData("2001:0:1:2:3:4:fefd:fcfb", true, "1.2.0.0")]
    [InlineData("127.0.0.1", true, "local")]
    [InlineData("0.1.2.3", true, "local")]
    [InlineData("10.1.2.3", true, "unroutable")]
    [InlineData("fe80::1", true, "unroutable")]
    [InlineData("10.1.2.3", false, "10.1.0.0")]
    [InlineData("127.0.0.1", false, "127.0.0.0")]
    public void Group_must_be_the_network_an_address_belongs_to(string ip, bool strict, string group) =>
        Assert.Equal(group, IpRanges.GroupKey(IPAddress.Parse(ip), strict));
}
