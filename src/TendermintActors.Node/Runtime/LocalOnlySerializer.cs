using Akka.Actor;
using Akka.Configuration;
using Akka.Serialization;

namespace TendermintActors.Node.Runtime;

/// <summary>
/// Stands in for Akka's default JSON serializer in a node process whose actor system is local only (see
/// <see cref="NodeAkkaConfig"/>). A local system never serialises a message unless <c>akka.actor.serialize-messages</c>
/// or <c>serialize-creators</c> asks it to, but Akka creates every configured serializer when the system starts, and
/// its JSON one loads Newtonsoft.Json and builds its settings: about 1.5 MB of an idle node's resident set, for
/// nothing. Asked to serialise all the same, it says which setting brings the JSON serializer back.
/// </summary>
internal sealed class LocalOnlySerializer : Serializer
{
    public LocalOnlySerializer(ExtendedActorSystem system)
        : base(system)
    {
    }

    // Akka creates a serializer with its configuration section when it has a constructor that takes one.
    public LocalOnlySerializer(ExtendedActorSystem system, Config config)
        : base(system)
    {
    }

    /// <summary>The identifier of the serializer it replaces (Akka's JSON serializer), which is then free.</summary>
    public override int Identifier => 1;

    public override bool IncludeManifest => false;

    public override byte[] ToBinary(object obj) => throw Refused(obj.GetType());

    public override object FromBinary(byte[] bytes, Type type) => throw Refused(type);

    private static NotSupportedException Refused(Type type) => new(
        $"{type.FullName} would be serialised as JSON, which this node's local actor system leaves out; set " +
        "akka.actor.serializers.json = \"Akka.Serialization.NewtonSoftJsonSerializer, Akka\" to have it back");
}
