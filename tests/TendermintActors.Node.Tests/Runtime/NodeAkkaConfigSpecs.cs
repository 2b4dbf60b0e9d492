using Akka.Actor;
using Akka.Configuration;
using Akka.Serialization;
using TendermintActors.Node.Runtime;

namespace TendermintActors.Node.Tests.Runtime;

/// <summary>
/// The node's Akka settings: a local system that serialises nothing goes without Akka's JSON serializer (and so
/// without loading Newtonsoft.Json); one that sends to other processes, or is asked to serialise, keeps it.
/// </summary>
public sealed class NodeAkkaConfigSpecs
{
    private static readonly LogLevels Levels = LogLevels.Parse("info");

    [Fact]
    public void A_local_node_system_has_no_json_serializer_and_says_how_to_have_it_back()
    {
        using var system = ActorSystem.Create("local-node", NodeAkkaConfig.Create(Levels, ConfigurationFactory.ParseString("tendermint.p2p.pex = off")));
        try
        {
            var serializer = system.Serialization.FindSerializerForType(typeof(Uri));

            Assert.IsType<LocalOnlySerializer>(serializer);
            var refused = Assert.Throws<NotSupportedException>(() => serializer.ToBinary(new Uri("http://example.org")));
            Assert.Contains("akka.actor.serializers.json", refused.Message);
            // Byte arrays keep their own serializer.
            Assert.IsType<ByteArraySerializer>(system.Serialization.FindSerializerForType(typeof(byte[])));
        }
        finally
        {
            system.Terminate().Wait(TimeSpan.FromSeconds(10));
        }
    }

    [Fact]
    public void A_node_systems_actors_get_the_lean_mailbox_unless_the_operator_chooses_another()
    {
        Assert.Equal("SingleConsumerUnboundedMessageQueue", MailboxOfAnActor(NodeAkkaConfig.Create(Levels)));
        Assert.Equal("UnboundedMessageQueue", MailboxOfAnActor(NodeAkkaConfig.Create(Levels,
            ConfigurationFactory.ParseString("akka.actor.default-mailbox.mailbox-type = \"Akka.Dispatch.UnboundedMailbox, Akka\""))));
    }

    private static string MailboxOfAnActor(Config config)
    {
        using var system = ActorSystem.Create("mailbox", config);
        try
        {
            var answer = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            system.ActorOf(Props.Create(() => new MailboxReporter(answer)));
            return answer.Task.Wait(TimeSpan.FromSeconds(10)) ? answer.Task.Result : "no answer";
        }
        finally
        {
            system.Terminate().Wait(TimeSpan.FromSeconds(10));
        }
    }

    private sealed class MailboxReporter(TaskCompletionSource<string> answer) : UntypedActor
    {
        protected override void PreStart() => answer.SetResult(((ActorCell)Context).Mailbox!.MessageQueue.GetType().Name);

        protected override void OnReceive(object message)
        {
        }
    }

    [Theory]
    [InlineData("akka.actor.provider = remote")]
    [InlineData("akka.actor.provider = cluster")]
    [InlineData("akka.actor.provider = \"Akka.Cluster.ClusterActorRefProvider, Akka.Cluster\"")]
    [InlineData("akka.actor.serialize-messages = on")]
    [InlineData("akka.actor.serialize-creators = on")]
    public void A_system_that_serialises_keeps_akkas_json_serializer(string operatorConfig)
    {
        var config = NodeAkkaConfig.Create(Levels, ConfigurationFactory.ParseString(operatorConfig));

        Assert.False(NodeAkkaConfig.IsLocalWithoutSerialisation(config));
        Assert.Null(config.GetString("akka.actor.serializers.json", null));
    }

    [Fact]
    public void The_operators_json_serializer_wins_over_the_nodes()
    {
        var config = NodeAkkaConfig.Create(Levels,
            ConfigurationFactory.ParseString("akka.actor.serializers.json = \"Akka.Serialization.NewtonSoftJsonSerializer, Akka\""));

        Assert.Equal("Akka.Serialization.NewtonSoftJsonSerializer, Akka", config.GetString("akka.actor.serializers.json"));
    }
}
