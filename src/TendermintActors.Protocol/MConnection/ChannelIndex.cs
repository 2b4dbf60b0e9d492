namespace TendermintActors.Protocol.MConnection;

/// <summary>
/// Channel ID → the channel's position in a connection's list of channels, in 536 bytes: what a 256-entry table of
/// references per component (2 KiB each) cost every connection for the few channels a node declares.
/// </summary>
internal sealed class ChannelIndex
{
    private readonly ushort[] _positions = new ushort[256]; // position + 1; 0: not declared

    public ChannelIndex(IReadOnlyList<ChannelDescriptor> channels)
    {
        for (var i = 0; i < channels.Count; i++)
            _positions[channels[i].Id] = (ushort)(i + 1);
    }

    /// <summary>The position of channel <paramref name="channelId"/>, or -1 when it is not declared (or not a byte).</summary>
    public int this[int channelId] => (uint)channelId <= byte.MaxValue ? _positions[channelId] - 1 : -1;
}
