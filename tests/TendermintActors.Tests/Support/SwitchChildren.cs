using Akka.Actor;
using Akka.TestKit;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Switching;
using TendermintActors.Transport;

namespace TendermintActors.Tests.Support;

/// <summary>Which children a switch makes at its start, for the settings that turn them on or off.</summary>
internal static class SwitchChildren
{
    /// <summary>Starts a switch (not listening, one echo reactor, in-memory transport) and asks whether it has the child <paramref name="name"/>.</summary>
    public static bool Has(TestKitBase kit, Switch.Settings settings, string name)
    {
        var reactors = new[] { new ReactorRegistration("echo", kit.TestActor, [new ChannelDescriptor(0x42, 1)]) };
        var sw = kit.Sys.ActorOf(Switch.Props(NodeKey.Generate(), settings with { ListenHost = null }, reactors,
            new InMemoryTransport(InMemoryNetwork.Create(kit.Sys))), "switch");
        // Answered once the switch has started (and made its children).
        sw.Tell(new Identify("started"), kit.TestActor);
        kit.ExpectMsg<ActorIdentity>();

        kit.Sys.ActorSelection(sw.Path / name).Tell(new Identify(name), kit.TestActor);
        return kit.ExpectMsg<ActorIdentity>().Subject is not null;
    }
}
