using TendermintActors.Protocol.Identity;
using NodeInfoModel = TendermintActors.Protocol.NodeInfo.NodeInfo;

namespace TendermintActors.Node.Crawl;

/// <summary>
/// The state of a crawl, without I/O: which addresses are known and how they were learnt, which wait to be dialled,
/// and what each node turned out to be. The crawler actor feeds it dial outcomes and PEX answers and asks it what to
/// dial next. Every ID is dialled at most once (at the first address heard for it).
/// </summary>
internal sealed class NetworkWalk
{
    /// <summary>What the walk knows of one node.</summary>
    internal sealed class NodeRecord(NetAddress address, string learntFrom)
    {
        public NetAddress Address { get; } = address;
        /// <summary>"seed" for a configured seed, else the ID of the node whose PEX answer named it first.</summary>
        public string LearntFrom { get; } = learntFrom;
        public bool? Reachable { get; set; }
        public NodeInfoModel? NodeInfo { get; set; }
        public string? Error { get; set; }
        /// <summary>How many addresses it handed out (null when it gave no answer).</summary>
        public int? AddressesShared { get; set; }
        public bool IsSeed => LearntFrom == "seed";
    }

    private readonly Dictionary<NodeId, NodeRecord> _nodes = [];
    private readonly Queue<NodeId> _toDial = new();
    private readonly HashSet<NodeId> _inFlight = [];

    public NetworkWalk(IEnumerable<NetAddress> seeds)
    {
        foreach (var seed in seeds)
            Learn(seed, "seed");
    }

    public IReadOnlyCollection<NodeRecord> Nodes => _nodes.Values;

    public int Pending => _toDial.Count;

    public int InFlight => _inFlight.Count;

    /// <summary>Nothing left to dial and nothing under way.</summary>
    public bool IsDone => _toDial.Count == 0 && _inFlight.Count == 0;

    public bool AnySeedReached => _nodes.Values.Any(n => n.IsSeed && n.Reachable == true);

    /// <summary>Up to <paramref name="max"/> addresses to dial now (they count as in flight until finished).</summary>
    public IReadOnlyList<NetAddress> NextToDial(int max)
    {
        var next = new List<NetAddress>();
        while (_inFlight.Count < max && _toDial.TryDequeue(out var id))
        {
            _inFlight.Add(id);
            next.Add(_nodes[id].Address);
        }
        return next;
    }

    public bool IsInFlight(NodeId id) => _inFlight.Contains(id);

    /// <summary>The node answered the dial: record what it said of itself.</summary>
    public void Connected(NodeId id, NodeInfoModel info)
    {
        if (!_nodes.TryGetValue(id, out var node)) return;
        node.Reachable = true;
        node.NodeInfo = info;
    }

    /// <summary>The node's PEX answer: learn every address not seen before; its dial is done.</summary>
    public IReadOnlyList<NetAddress> Answered(NodeId from, IReadOnlyList<NetAddress> addresses)
    {
        var learnt = new List<NetAddress>();
        if (_nodes.TryGetValue(from, out var node))
            node.AddressesShared = addresses.Count;
        foreach (var address in addresses)
            if (Learn(address, from.Hex))
                learnt.Add(address);
        _inFlight.Remove(from);
        return learnt;
    }

    /// <summary>The dial or the conversation ended without an answer.</summary>
    public void Finished(NodeId id, string? error)
    {
        if (!_inFlight.Remove(id) || !_nodes.TryGetValue(id, out var node)) return;
        if (node.Reachable != true)
        {
            node.Reachable = false;
            node.Error = error;
        }
        else if (node.AddressesShared is null)
        {
            node.Error = error ?? "no PEX answer";
        }
    }

    /// <summary>Stops the walk where it is: what was not dialled stays unknown.</summary>
    public void Abandon()
    {
        _toDial.Clear();
        foreach (var id in _inFlight.ToList())
            Finished(id, "the crawl ended before it answered");
    }

    private bool Learn(NetAddress address, string from)
    {
        if (_nodes.ContainsKey(address.Id)) return false;
        _nodes[address.Id] = new NodeRecord(address, from);
        _toDial.Enqueue(address.Id);
        return true;
    }
}
