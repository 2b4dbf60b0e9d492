using Akka.Actor;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Streams;
using TendermintActors.Switching;
using TendermintActors.Transport;

namespace TendermintActors.Tests.Switching;

/// <summary>Settings built in code (not read from HOCON) are checked when the switch's Props are made.</summary>
public class SwitchSettingsTests
{
    public static TheoryData<Switch.Settings, string> OutOfRange => new()
    {
        { new Switch.Settings { DialTimeout = TimeSpan.Zero }, "DialTimeout must be longer than 0 to 1 h" },
        { new Switch.Settings { HandshakeTimeout = TimeSpan.FromDays(50) }, "HandshakeTimeout must be longer than 0 to 1 h" },
        { new Switch.Settings { FilterTimeout = TimeSpan.FromHours(1) + TimeSpan.FromTicks(1) }, "FilterTimeout must be longer than 0 to 1 h" },
        { new Switch.Settings { SendTimeout = TimeSpan.FromSeconds(-1) }, "SendTimeout must be from 0 to 1 h" },
        { new Switch.Settings { Connection = new MConnectionSettings { PongTimeout = TimeSpan.FromMinutes(2) } }, "PongTimeout" },
    };

    [Theory]
    [MemberData(nameof(OutOfRange))]
    public void Props_refuse_settings_out_of_range_naming_the_setting(Switch.Settings settings, string expected)
    {
        using var key = NodeKey.Generate();

        var e = Assert.Throws<ArgumentException>(() => Switch.Props(key, settings, [], new TcpTransport()));

        Assert.StartsWith(expected, e.Message);
    }

    private sealed class Nobody : ActorBase
    {
        protected override bool Receive(object message) => false;
    }

    private static ReactorRegistration Reactor(string name, params byte[] channels) =>
        new(name, ActorRefs.Nobody, channels.Select(id => new ChannelDescriptor(id, 1)).ToArray());

    public static TheoryData<Switch.Settings, ReactorRegistration[], string> RefusedNodeInfo => new()
    {
        { new Switch.Settings { Moniker = "" }, [Reactor("r", 0x40)], "peers would refuse this node's info: moniker '' is empty" },
        { new Switch.Settings { Moniker = "caf\u00e9" }, [Reactor("r", 0x40)], "peers would refuse this node's info: moniker" },
        { new Switch.Settings { TxIndex = "maybe" }, [Reactor("r", 0x40)], "peers would refuse this node's info: other.tx_index 'maybe'" },
        { new Switch.Settings { ExternalAddress = "tcp://1.2.3.4:26656" }, [Reactor("r", 0x40)], "peers would refuse this node's info: listen address 'tcp://tcp://1.2.3.4:26656'" },
        { new Switch.Settings(), [Reactor("r", [.. Enumerable.Range(0x40, 17).Select(i => (byte)i)])], "peers would refuse this node's info: 17 channels, at most 16" },
        { new Switch.Settings(), [Reactor("one", 0x40), Reactor("two", 0x40)], "channel 0x40 of reactor 'two' is already owned by reactor 'one'" },
        { new Switch.Settings { Moniker = new string('m', 11_000) }, [Reactor("r", 0x40)], "this node's info takes" },
    };

    [Theory]
    [MemberData(nameof(RefusedNodeInfo))]
    public void Props_refuse_a_node_info_every_peer_would_refuse_saying_why(Switch.Settings settings, ReactorRegistration[] reactors, string expected)
    {
        using var key = NodeKey.Generate();

        var e = Assert.Throws<ArgumentException>(() => Switch.Props(key, settings, reactors, new TcpTransport()));

        Assert.StartsWith(expected, e.Message);
    }

    [Fact]
    public void The_defaults_and_the_edges_of_the_ranges_are_accepted()
    {
        using var key = NodeKey.Generate();
        var edges = new Switch.Settings
        {
            DialTimeout = Switch.Settings.MaxTimeout,
            HandshakeTimeout = TimeSpan.FromTicks(1),
            FilterTimeout = Switch.Settings.MaxTimeout,
            SendTimeout = TimeSpan.Zero,
        };

        Assert.NotNull(Switch.Props(key, new Switch.Settings(), [], new TcpTransport()));
        Assert.NotNull(Switch.Props(key, edges, [], new TcpTransport()));
    }
}
