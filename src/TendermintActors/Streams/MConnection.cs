using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Event;
using Akka.IO;
using Akka.Streams.Dsl;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Streams.Internal;

namespace TendermintActors.Streams;

/// <summary>
/// The MConnection (docs/protocol.md §5) as an Akka.Streams flow that sits on top of a SecretConnection: plaintext bytes
/// from the remote in (any chunking), plaintext bytes to the remote out. Messages go in through the materialised
/// <see cref="MConnectionHandle"/>; everything the connection has to say goes to one <c>owner</c> actor as the
/// <see cref="IEvent"/> messages below.
/// </summary>
/// <remarks>
/// <para><b>Sending.</b> Each channel holds at most <see cref="ChannelDescriptor.SendQueueCapacity"/> + 1 messages
/// not yet completely written (the one being cut into packets plus the waiting ones, as in Go). The owner keeps its
/// own count: +1 per <see cref="MConnectionHandle.Send"/>, −Count per <see cref="MessagesSent"/>, −1 per
/// <see cref="SendRejected"/>, so it can answer <c>TrySend</c> at once without sharing state with the stage. A send
/// beyond the bound, on an unknown channel or after a close is dropped with a <see cref="SendRejected"/>. Packets are
/// written as soon as downstream asks (no flush delay); while it is busy they gather into writes of up to
/// <see cref="MConnectionSettings.MaxWriteBatchBytes"/>.</para>
/// <para><b>Receive back-pressure.</b> Each whole message is told to the owner in a <see cref="MessagesReceived"/>. Per
/// channel, at most N messages may be delivered and not yet acknowledged with <see cref="MConnectionHandle.Ack"/>,
/// N being the channel's <see cref="ChannelDescriptor.RecvBufferCapacity"/> (at least 1), and delivery pauses once
/// their bytes reach <see cref="MConnectionSettings.ReceiveWindowBytes"/> (so a channel holds at most one message
/// beyond the window, and a message larger than the window still goes through, alone). Acknowledgements free the
/// oldest deliveries first (an owner that finishes messages out of order frees other sizes than it processed; the
/// totals still match once all are acknowledged). While any channel is at its bound the stage stops reading, so TCP back-pressures this one peer; messages already decoded from the bytes in hand
/// wait in the stage (at most one read's worth) and are delivered in order as acknowledgements come. A reactor that
/// falls behind slows only the peers that feed it. While reads are paused by us (this bound, or the receive rate
/// limit), a pong that comes due is not held against the remote: its timeout starts again when reading resumes.
/// Pings and owed pongs still go out while reads are paused.</para>
/// <para><b>Ending.</b> Any protocol violation, a missed pong, or a transport failure fails the stream with a typed
/// <see cref="Protocol.Errors.PeerConnectionException"/> (transport errors pass through as they are). The remote
/// closing its side completes the stream, unless it stopped inside a packet or a message, or our graceful close is
/// still writing: then we keep writing, and the stream completes once everything is out, or fails with
/// <see cref="PeerClosedException"/> if that has not happened one pong timeout later. Either way the owner gets
/// <see cref="Stopped"/> and <see cref="MConnectionHandle.Completion"/> ends.</para>
/// </remarks>
public static class MConnection
{
    /// <summary>
    /// The MConnection flow for one connection. Join it with the plaintext side of a SecretConnection, e.g.
    /// <c>SecretConnection.Create(key).JoinUnderMat(MConnection.Create(...), Keep.Right)</c> as a TCP handler.
    /// </summary>
    /// <param name="settings">Connection options (validated here).</param>
    /// <param name="channels">Our channels (validated here); packets on any other channel end the connection.</param>
    /// <param name="owner">The actor (normally the peer actor) that receives every <see cref="IEvent"/>.</param>
    internal static Flow<ByteString, ByteString, MConnectionHandle> Create(
        MConnectionSettings settings, IReadOnlyList<ChannelDescriptor> channels, IActorRef owner)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(channels);
        ArgumentNullException.ThrowIfNull(owner);
        settings.Validate();
        ChannelDescriptor.ValidateSet(channels);
        return MConnectionStage.Create(settings, channels.ToArray(), owner);
    }

    /// <summary>What an MConnection tells its owner.</summary>
    public interface IEvent;

    /// <summary>
    /// Whole messages that arrived, in the order they arrived: all those delivered at one time (typically everything
    /// decoded from one read), so that a stream of small messages costs the owner one actor message per read rather
    /// than one per message. Acknowledge each with <see cref="MConnectionHandle.Ack"/> once processed.
    /// </summary>
    public sealed record MessagesReceived(IReadOnlyList<ReceivedMessage> Messages) : IEvent
    {
        public override string ToString() => $"MessagesReceived({Messages.Count} messages)";
    }

    /// <summary>One whole message on a channel, as part of <see cref="MessagesReceived"/>.</summary>
    public readonly record struct ReceivedMessage(byte Channel, ReadOnlyMemory<byte> Message)
    {
        public override string ToString() => $"ReceivedMessage(0x{Channel:x2}, {Message.Length} bytes)";
    }

    /// <summary>
    /// <paramref name="Count"/> (≥ 1) more messages given to <see cref="MConnectionHandle.Send"/> on the channel were
    /// completely written: their slots are free again. Told once per channel per write, not once per message, so that
    /// a stream of small messages does not cost the owner one actor message each.
    /// </summary>
    public sealed record MessagesSent(byte Channel, int Count) : IEvent;

    /// <summary>Why a message was dropped instead of queued.</summary>
    public enum SendRejection
    {
        /// <summary>The channel already held <see cref="ChannelDescriptor.SendQueueCapacity"/> + 1 unsent messages.</summary>
        QueueFull,
        /// <summary>We did not declare that channel.</summary>
        UnknownChannel,
        /// <summary>The connection is closing or closed.</summary>
        Closing,
    }

    /// <summary>A message given to <see cref="MConnectionHandle.Send"/> was dropped; its slot is free again.</summary>
    public sealed record SendRejected(byte Channel, SendRejection Reason) : IEvent;

    /// <summary>
    /// The bytes of unfinished messages the connection holds for reassembly, told when they have changed by
    /// <see cref="BufferedBytesReportStep"/> or more since the last report, or dropped to zero: one actor message per
    /// step rather than per packet. The owner forwards them to the node's buffer budget.
    /// </summary>
    internal sealed record BufferedBytes(long PartialReceiveBytes) : IEvent;

    /// <summary>How much the reassembly bytes change before <see cref="BufferedBytes"/> is told again.</summary>
    internal const long BufferedBytesReportStep = 64 * 1024;

    /// <summary>The answer to <see cref="MConnectionHandle.RequestStatus"/>.</summary>
    public sealed record Status(ConnectionStatus Connection) : IEvent;

    /// <summary>
    /// The connection ended: <paramref name="Reason"/> is null when it closed cleanly (our <c>Close</c>, or the remote
    /// ending its stream between messages), otherwise the typed failure.
    /// </summary>
    public sealed record Stopped(Exception? Reason) : IEvent, IDeadLetterSuppression;

    /// <summary>One channel's state.</summary>
    /// <param name="Id">The channel's byte on the wire.</param>
    /// <param name="Priority">Its descriptor's send priority.</param>
    /// <param name="SendQueueSize">Messages not yet completely written, the one being cut into packets included.</param>
    /// <param name="SendQueueCapacity">Its descriptor's queue capacity (one more message may be in progress).</param>
    /// <param name="RecentlySent">Packet bytes sent lately (decayed ×0.8 every status interval): the scheduler's measure.</param>
    /// <param name="PendingSendBytes">Message bytes not yet cut into packets.</param>
    /// <param name="ReceivedUnacknowledged">Messages delivered to the owner and not yet acknowledged.</param>
    /// <param name="ReceiveBound">How many may be unacknowledged before reading pauses (the descriptor's <see cref="ChannelDescriptor.RecvBufferCapacity"/>).</param>
    /// <param name="ReceivedUnacknowledgedBytes">The bytes of those messages.</param>
    /// <param name="ReceiveWindowBytes">How many bytes may be unacknowledged before reading pauses (<see cref="MConnectionSettings.ReceiveWindowBytes"/>).</param>
    public sealed record ChannelStatus(
        byte Id, int Priority, int SendQueueSize, int SendQueueCapacity, long RecentlySent, long PendingSendBytes,
        int ReceivedUnacknowledged, int ReceiveBound, long ReceivedUnacknowledgedBytes, long ReceiveWindowBytes);

    /// <summary>
    /// A connection's state, like Go's <c>ConnectionStatus</c>. Rates are bytes per second over the last completed
    /// <see cref="MConnectionSettings.StatusDecayInterval"/>, counting every byte of every packet.
    /// </summary>
    /// <param name="Channels">Every channel, in descriptor order.</param>
    /// <param name="BytesSent">Bytes handed downstream since the start.</param>
    /// <param name="BytesReceived">Bytes read from upstream since the start.</param>
    /// <param name="SendRate">Bytes per second sent over the last interval.</param>
    /// <param name="RecvRate">Bytes per second received over the last interval.</param>
    /// <param name="ReceivePaused">True while we are not reading because of receive back-pressure or the receive rate limit.</param>
    public sealed record ConnectionStatus(
        IReadOnlyList<ChannelStatus> Channels, long BytesSent, long BytesReceived, long SendRate, long RecvRate,
        bool ReceivePaused);
}

/// <summary>The options of one MConnection, with the defaults of a CometBFT node.</summary>
public sealed record MConnectionSettings
{
    /// <summary>Most data bytes per <c>PacketMsg</c> we send, and the basis of the largest packet we accept.</summary>
    public int MaxPacketMsgPayloadSize { get; init; } = PacketCodec.DefaultMaxPayloadSize;

    /// <summary>How often we send a <c>PacketPing</c>.</summary>
    public TimeSpan PingInterval { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long after our ping a pong must arrive; must be less than <see cref="PingInterval"/>.</summary>
    public TimeSpan PongTimeout { get; init; } = TimeSpan.FromSeconds(45);

    /// <summary>
    /// Go's <c>flush-throttle-timeout</c>. We never hold a packet back to flush it later (a write goes out as soon as
    /// downstream asks for one); here it sizes the rate limits' burst: an idle connection may send or read this
    /// period's worth of bytes at once. The budgets are refilled every 10 ms (or this period, if shorter) with what
    /// the rate earned meanwhile, and a connection over its budget resumes at the first refill that brings it above
    /// zero: the next one, unless one packet or read is worth more than a refill (rates under ~100 kB/s).
    /// </summary>
    public TimeSpan FlushThrottle { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Most bytes per second written on this connection (paced 2 % under it: <see cref="TokenBucket.PacedSendRate"/>); 0 for no limit.</summary>
    public long SendRate { get; init; } = 5_120_000;

    /// <summary>Bytes per second read from this connection; 0 for no limit.</summary>
    public long RecvRate { get; init; } = 5_120_000;

    /// <summary>How often every channel's recentlySent decays by ×0.8 (and the status rates are sampled).</summary>
    public TimeSpan StatusDecayInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Most bytes handed downstream in one element while packets queue up (at least one whole packet).</summary>
    public int MaxWriteBatchBytes { get; init; } = 64 * 1024;

    /// <summary>How the sender chooses among channels with something to send (<see cref="SendQueueType"/>).</summary>
    public SendQueueType QueueType { get; init; } = SendQueueType.Priority;

    /// <summary>
    /// Each write goes downstream as a view of one buffer the stage keeps, valid only until it is pulled again, instead
    /// of in a fresh array. Only for a consumer fused with the stage that is done with a write before it pulls again:
    /// the peer pipeline's SecretConnection, which seals it at once. Saves allocating one byte per byte sent.
    /// </summary>
    internal bool LendOutput { get; init; }

    /// <summary>
    /// Tell the owner <see cref="MConnection.BufferedBytes"/> (for the node's buffer budget). Off unless the switch
    /// keeps a budget, so that owners that do not need them never see them.
    /// </summary>
    internal bool ReportBufferedBytes { get; init; }

    /// <summary>
    /// Per channel, the message bytes delivered to the owner and not yet acknowledged at which reading pauses (besides
    /// the channel's <see cref="ChannelDescriptor.RecvBufferCapacity"/> messages). It bounds what a peer can make us
    /// hold for a slow reactor: without it, 4096 messages of up to 21 MiB each.
    /// </summary>
    public long ReceiveWindowBytes { get; init; } = DefaultReceiveWindowBytes;

    /// <summary>
    /// 256 KiB: ~50 ms of a default-rate connection, ~1 ms of a 300 MB/s one. Bigger windows measured slower here
    /// (the messages held survive into older GC generations) and make other channels' messages wait longer behind a
    /// slow reactor's backlog, which the TCP stream delivers in order.
    /// </summary>
    public const long DefaultReceiveWindowBytes = 256 * 1024;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting out of range.</summary>
    public void Validate()
    {
        if (MaxPacketMsgPayloadSize <= 0)
            throw new ArgumentException($"MaxPacketMsgPayloadSize must be positive, got {MaxPacketMsgPayloadSize}");
        if (PingInterval <= TimeSpan.Zero)
            throw new ArgumentException($"PingInterval must be positive, got {PingInterval}");
        if (PongTimeout <= TimeSpan.Zero)
            throw new ArgumentException($"PongTimeout must be positive, got {PongTimeout}");
        if (PongTimeout >= PingInterval)
            throw new ArgumentException(
                $"PongTimeout ({PongTimeout}) must be less than PingInterval ({PingInterval}): otherwise the next ping goes out before the previous pong is overdue");
        if (FlushThrottle <= TimeSpan.Zero)
            throw new ArgumentException($"FlushThrottle must be positive, got {FlushThrottle}");
        if (SendRate < 0)
            throw new ArgumentException($"SendRate must be 0 (unlimited) or positive, got {SendRate}");
        if (RecvRate < 0)
            throw new ArgumentException($"RecvRate must be 0 (unlimited) or positive, got {RecvRate}");
        if (StatusDecayInterval <= TimeSpan.Zero)
            throw new ArgumentException($"StatusDecayInterval must be positive, got {StatusDecayInterval}");
        if (MaxWriteBatchBytes <= 0)
            throw new ArgumentException($"MaxWriteBatchBytes must be positive, got {MaxWriteBatchBytes}");
        if (ReceiveWindowBytes <= 0)
            throw new ArgumentException($"ReceiveWindowBytes must be positive, got {ReceiveWindowBytes}");
        if (!Enum.IsDefined(QueueType))
            throw new ArgumentException($"QueueType must be Priority, Fifo or Wdrr, got {QueueType}");
    }
}

/// <summary>
/// The materialised side of an MConnection: what its owner uses to send, acknowledge, ask for status and close.
/// Every method may be called from any thread at any time, also before the stream has started or after it ended
/// (then it does nothing). Calls reach the stage in the order they were made.
/// </summary>
internal sealed class MConnectionHandle
{
    // Commands wait here until the stage drains them: the stage's async callback cannot be used before the stream
    // has started, and a queue keeps calls made before and after that point in order. Made at the first command (its
    // first segment is ~1 KiB, which an idle connection would hold for nothing) and dropped, not cleared, at the end.
    private ConcurrentQueue<Command>? _commands;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Action? _wake;
    private int _wakePending;
    private int _stopped;

    internal MConnectionHandle()
    {
    }

    /// <summary>
    /// Completes when the connection has ended: successfully after a clean close, faulted with the reason otherwise.
    /// </summary>
    public Task Completion => _completion.Task;

    /// <summary>
    /// Queues a whole message on a channel. The stage keeps <paramref name="message"/> without copying it until its
    /// last packet is written, so the memory must not change afterwards. Answered by <see cref="MConnection.MessagesSent"/>
    /// or <see cref="MConnection.SendRejected"/>.
    /// </summary>
    public void Send(byte channel, ReadOnlyMemory<byte> message) => Enqueue(new Command(CommandKind.Send, channel, 0, message));

    /// <summary>The owner has processed <paramref name="count"/> more messages received on the channel.</summary>
    public void Ack(byte channel, int count = 1)
    {
        if (count > 0)
            Enqueue(new Command(CommandKind.Ack, channel, count, default));
    }

    /// <summary>
    /// Stops (or resumes) reading from the remote for the node's buffer budget, as a full receive window does: TCP then
    /// pushes back on this peer alone, and the pong timeout is not held against it meanwhile.
    /// </summary>
    public void PauseReads(bool paused) => Enqueue(new Command(CommandKind.PauseReads, 0, paused ? 1 : 0, default));

    /// <summary>Asks for a <see cref="MConnection.Status"/>, told to the owner.</summary>
    public void RequestStatus() => Enqueue(new Command(CommandKind.Status, 0, 0, default));

    /// <summary>
    /// Ends the connection cleanly. Without <paramref name="flushFirst"/> it stops at once, dropping what is queued.
    /// With it, every message queued so far is written first (later sends are rejected), then our direction of the
    /// stream completes so that the layers below flush and close it; the connection ends when the remote closes its
    /// direction in turn, or one <see cref="MConnectionSettings.PongTimeout"/> later. If the remote closes its direction
    /// before everything is written, writing goes on (it may be closing too and still reading) for at most one pong
    /// timeout, after which the connection fails with <see cref="PeerClosedException"/>.
    /// </summary>
    public void Close(bool flushFirst) => Enqueue(new Command(CommandKind.Close, 0, flushFirst ? 1 : 0, default));

    private void Enqueue(Command command)
    {
        if (Volatile.Read(ref _stopped) != 0) return;
        var commands = Volatile.Read(ref _commands);
        if (commands is null)
        {
            // The queue this call made, or the one another made first; never a read after the exchange, which a
            // connection ending meanwhile (Stopped drops the queue) would answer with null.
            var made = new ConcurrentQueue<Command>();
            commands = Interlocked.CompareExchange(ref _commands, made, null) ?? made;
        }
        commands.Enqueue(command);
        // One wake-up per batch of calls; the stage clears the flag before draining, so none is lost.
        if (Interlocked.Exchange(ref _wakePending, 1) == 0)
            Volatile.Read(ref _wake)?.Invoke();
    }

    /// <summary>Called once from the stage's PreStart, which then drains.</summary>
    internal void Attach(Action wake)
    {
        Volatile.Write(ref _wake, wake);
        Volatile.Write(ref _wakePending, 0);
    }

    /// <summary>The stage calls this before draining with <see cref="TryTake"/>.</summary>
    internal void BeginDrain() => Volatile.Write(ref _wakePending, 0);

    internal bool TryTake(out Command command)
    {
        if (Volatile.Read(ref _commands) is { } commands)
            return commands.TryDequeue(out command);
        command = default;
        return false;
    }

    /// <summary>Whether a command was ever queued (and the connection has not ended since).</summary>
    internal bool HoldsCommandQueue => Volatile.Read(ref _commands) is not null;

    internal void Stopped(Exception? reason)
    {
        Volatile.Write(ref _stopped, 1);
        Volatile.Write(ref _wake, null);
        Volatile.Write(ref _commands, null); // what was still queued goes with it (clearing would allocate a segment)
        if (reason is null)
            _completion.TrySetResult();
        else
            _completion.TrySetException(reason);
    }

    internal enum CommandKind : byte
    {
        Send,
        Ack,
        Status,
        Close,
        PauseReads,
    }

    internal readonly record struct Command(CommandKind Kind, byte Channel, int Count, ReadOnlyMemory<byte> Message);
}
