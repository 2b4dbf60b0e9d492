using Akka.Configuration;

namespace TendermintActors.Configuration;

/// <summary>
/// The library's <c>reference.conf</c> (hocon/reference.conf, embedded): every <c>tendermint.p2p</c> key with its
/// default. Put it last in the fallback chain; it is the only place where defaults live.
/// </summary>
public static class P2PReferenceConfig
{
    /// <summary>The logical name under which the project file embeds hocon/reference.conf.</summary>
    public const string ResourceName = "TendermintActors.reference.conf";

    private static readonly Lazy<Config> Reference = new(Read);

    /// <summary>The embedded reference configuration (parsed once; Akka's <see cref="Config"/> is immutable).</summary>
    public static Config Load() => Reference.Value;

    /// <summary>The embedded file's text, for tools that show or copy it.</summary>
    public static string Text()
    {
        using var stream = typeof(P2PReferenceConfig).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"embedded resource '{ResourceName}' is missing from {typeof(P2PReferenceConfig).Assembly.GetName().Name}: the build is broken");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>
    /// The keys under <paramref name="section"/> (e.g. <c>tendermint.p2p</c>) of <paramref name="config"/> that this
    /// reference does not have, nested ones included, each with the known key meant when one is close (CometBFT's
    /// <c>max_num_inbound_peers</c> suggests <c>max-num-inbound-peers</c>). <see cref="P2PSettings.Create"/> refuses
    /// the first of them; a host that reads its configuration in layers can ask per layer, to say where a key came from.
    /// </summary>
    public static IReadOnlyList<UnknownConfigKey> UnknownKeys(Config config, string section)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentException.ThrowIfNullOrEmpty(section);
        return ConfigKeys.Unknown(config, Load(), section);
    }

    private static Config Read() => ConfigurationFactory.ParseString(Text());
}
