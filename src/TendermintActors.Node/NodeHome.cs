namespace TendermintActors.Node;

/// <summary>Where a node keeps its files, relative to its home directory (the layout of a Go node's home).</summary>
internal sealed record NodeHome(string Root)
{
    public const string DefaultDirectoryName = ".tmactors";
    public const string NodeKeyRelativePath = "config/node_key.json";
    public const string NodeConfRelativePath = "config/node.conf";

    public string ConfigDirectory => Path.Combine(Root, "config");
    public string NodeKeyFile => Path.Combine(Root, NodeKeyRelativePath);
    public string NodeConfFile => Path.Combine(Root, NodeConfRelativePath);

    public static NodeHome At(string directory) => new(Path.GetFullPath(directory));

    /// <summary>
    /// <c>$CMTHOME</c> when set (CometBFT's name since v0.37), else <c>$TMHOME</c> (Tendermint's), otherwise
    /// <c>~/.tmactors</c>. CMTHOME wins when both are set: it is the name current CometBFT reads.
    /// </summary>
    public static string Default(string? cmtHome, string? tmHome, string userProfile) =>
        !string.IsNullOrWhiteSpace(cmtHome) ? cmtHome
        : !string.IsNullOrWhiteSpace(tmHome) ? tmHome
        : Path.Combine(userProfile, DefaultDirectoryName);
}
