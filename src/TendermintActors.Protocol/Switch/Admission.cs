namespace TendermintActors.Protocol.Switch;

/// <summary>Why the switch refuses a connection (docs/protocol.md §6).</summary>
public enum RejectReason
{
    /// <summary>The remote is this node (we dialled one of our own addresses, or it looped back).</summary>
    Self,

    /// <summary>A peer with this ID is already connected, or being dialled.</summary>
    DuplicateId,

    /// <summary>A peer from this IP is already connected and <c>allow-duplicate-ip</c> is off.</summary>
    DuplicateIp,

    /// <summary><c>max-num-inbound-peers</c> reached.</summary>
    TooManyInbound,

    /// <summary><c>max-num-outbound-peers</c> reached.</summary>
    TooManyOutbound,
}

/// <summary>The decision of <see cref="AdmissionPolicy"/>: accept, or reject with a reason and a message for the log.</summary>
public abstract record Admission
{
    private Admission() { }

    public static Admission Accept { get; } = new Accepted();

    public static Admission Reject(RejectReason reason, string message) => new Rejected(reason, message);

    public bool IsAccepted => this is Accepted;

    public sealed record Accepted : Admission
    {
        public override string ToString() => "accepted";
    }

    public sealed record Rejected(RejectReason Reason, string Message) : Admission
    {
        public override string ToString() => $"rejected ({Reason}): {Message}";
    }
}
