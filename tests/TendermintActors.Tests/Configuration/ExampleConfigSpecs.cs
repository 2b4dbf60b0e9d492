using System.Text.RegularExpressions;
using Akka.Actor;
using Akka.Configuration;
using TendermintActors.Configuration;
using TendermintActors.Peers;
using TendermintActors.Pex;
using TendermintActors.Protocol.Identity;
using TendermintActors.Switching;

namespace TendermintActors.Tests.Configuration;

/// <summary>
/// The example node configurations under hocon/examples: each one, with its placeholders filled in, is read by
/// <see cref="P2PSettings.Create"/> and accepted by the switch's start checks, and says what its comments promise.
/// </summary>
public sealed partial class ExampleConfigSpecs
{
    [GeneratedRegex("<[a-z0-9-]*id>")]
    private static partial Regex IdPlaceholder();

    private static readonly string Examples = Path.Combine(RepoRoot(), "hocon", "examples");

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "TendermintActors.sln")))
                return dir.FullName;
        throw new InvalidOperationException("TendermintActors.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>The example with every placeholder replaced: one fresh node ID per distinct ID placeholder.</summary>
    private static (P2PSettings Settings, IReadOnlyDictionary<string, string> Ids) Load(string name)
    {
        var text = File.ReadAllText(Path.Combine(Examples, name));
        var ids = new Dictionary<string, string>();
        text = IdPlaceholder().Replace(text, m =>
        {
            if (!ids.TryGetValue(m.Value, out var id))
            {
                using var key = NodeKey.Generate();
                ids[m.Value] = id = key.Id.Hex;
            }
            return id;
        });
        text = text.Replace("<chain-id>", "example-chain").Replace("<public-ip>", "203.0.113.7");
        Assert.DoesNotContain(text.Split('\n'), line => !line.TrimStart().StartsWith('#') && line.Contains('<'));
        var settings = P2PSettings.Create(ConfigurationFactory.ParseString(text).WithFallback(P2PReferenceConfig.Load()));
        // What the node checks before it starts any actor: its node info as a peer would see it, and PEX's settings.
        using var nodeKey = NodeKey.Generate();
        var switchSettings = Switch.Settings.From(settings);
        IReadOnlyList<ReactorRegistration> reactors = settings.Pex
            ? [new ReactorRegistration("pex", ActorRefs.Nobody, [PexReactor.Descriptor])]
            : [new ReactorRegistration("app", ActorRefs.Nobody, [new Protocol.MConnection.ChannelDescriptor(0x42, 5)])];
        Switch.Check(nodeKey, switchSettings, reactors);
        if (settings.Pex)
            PexReactor.Settings.From(settings).Validate();
        return (settings, ids);
    }

    [Fact]
    public void Every_example_has_a_spec()
    {
        var files = Directory.GetFiles(Examples, "*.conf").Select(f => Path.GetFileName(f)!).Order().ToArray();
        Assert.Equal(["localnet.conf", "seed.conf", "sentry.conf", "validator.conf"], files);
    }

    [Fact]
    public void Sentry_keeps_its_validator_connected_and_never_gossips_it()
    {
        var (s, ids) = Load("sentry.conf");
        var validator = ids["<validator-id>"];
        Assert.True(s.Pex);
        Assert.False(s.SeedMode);
        Assert.True(s.AddrBookStrict);
        Assert.Contains(s.PersistentPeers, a => a.Id.Hex == validator);
        Assert.Contains(s.PrivatePeerIds, id => id.Hex == validator);
        Assert.Contains(s.UnconditionalPeerIds, id => id.Hex == validator);
        Assert.NotNull(s.ExternalAddress);
    }

    [Fact]
    public void Private_validator_talks_only_to_its_sentries()
    {
        var (s, ids) = Load("validator.conf");
        Assert.False(s.Pex);
        Assert.Empty(s.Seeds);
        Assert.Equal([ids["<sentry-1-id>"], ids["<sentry-2-id>"]], s.PersistentPeers.Select(a => a.Id.Hex));
        Assert.Equal(TimeSpan.FromSeconds(60), s.PersistentPeersMaxDialPeriod);
    }

    [Fact]
    public void Seed_runs_in_seed_mode_with_a_strict_book()
    {
        var (s, _) = Load("seed.conf");
        Assert.True(s.Pex);
        Assert.True(s.SeedMode);
        Assert.True(s.AddrBookStrict);
        Assert.Equal(1000, s.MaxNumInboundPeers);
    }

    [Fact]
    public void Local_network_node_accepts_loopback_peers()
    {
        var (s, _) = Load("localnet.conf");
        Assert.False(s.AddrBookStrict);
        Assert.True(s.AllowDuplicateIp);
        Assert.Single(s.Seeds);
        Assert.Equal("127.0.0.1", s.Seeds[0].Host);
    }
}
