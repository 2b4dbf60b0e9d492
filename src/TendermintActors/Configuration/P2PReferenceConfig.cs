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

    private static Config Read() => ConfigurationFactory.ParseString(Text());
}
