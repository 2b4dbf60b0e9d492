using TendermintActors.Protocol.Identity;
using TendermintActors.Streams;
using TendermintActors.Switching;
using TendermintActors.Transport;

namespace TendermintActors.Tests.Switching;

/// <summary>Settings built in code (not read from HOCON) are checked when the switch's Props are made.</summary>
public class SwitchSettingsTests
{
    public static TheoryData<SwitchSettings, string> OutOfRange => new()
    {
        { new SwitchSettings { DialTimeout = TimeSpan.Zero }, "DialTimeout must be longer than 0 to 1 h" },
        { new SwitchSettings { HandshakeTimeout = TimeSpan.FromDays(50) }, "HandshakeTimeout must be longer than 0 to 1 h" },
        { new SwitchSettings { FilterTimeout = TimeSpan.FromHours(1) + TimeSpan.FromTicks(1) }, "FilterTimeout must be longer than 0 to 1 h" },
        { new SwitchSettings { SendTimeout = TimeSpan.FromSeconds(-1) }, "SendTimeout must be from 0 to 1 h" },
        { new SwitchSettings { Connection = new MConnectionSettings { PongTimeout = TimeSpan.FromMinutes(2) } }, "PongTimeout" },
    };

    [Theory]
    [MemberData(nameof(OutOfRange))]
    public void Props_refuse_settings_out_of_range_naming_the_setting(SwitchSettings settings, string expected)
    {
        using var key = NodeKey.Generate();

        var e = Assert.Throws<ArgumentException>(() => Switch.Props(key, settings, [], new TcpTransport()));

        Assert.StartsWith(expected, e.Message);
    }

    [Fact]
    public void The_defaults_and_the_edges_of_the_ranges_are_accepted()
    {
        using var key = NodeKey.Generate();
        var edges = new SwitchSettings
        {
            DialTimeout = SwitchSettings.MaxTimeout,
            HandshakeTimeout = TimeSpan.FromTicks(1),
            FilterTimeout = SwitchSettings.MaxTimeout,
            SendTimeout = TimeSpan.Zero,
        };

        Assert.NotNull(Switch.Props(key, new SwitchSettings(), [], new TcpTransport()));
        Assert.NotNull(Switch.Props(key, edges, [], new TcpTransport()));
    }
}
