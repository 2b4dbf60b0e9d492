using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Stage;
using TendermintActors.Streams.Internal;

namespace TendermintActors.Transport.Internal;

/// <summary>
/// Asks a <see cref="SocketConnectionStage"/> to push each read as a view of its one read buffer instead of a copy.
/// The stage reads into that buffer again only when pulled again, so whoever takes its output must be done with an
/// element (opened, or copied) before it pulls the next: the peer pipeline's SecretConnection stage, fused with it, is.
/// </summary>
internal sealed class LendReads : Attributes.IAttribute
{
    public static readonly Attributes Attributes = new(new LendReads());
}

/// <summary>
/// What a <see cref="SocketConnectionStage"/> connects: a socket a listener accepted, or an address to dial. An attribute
/// for the stage that a graph fused once holds for every connection.
/// </summary>
internal sealed record SocketTarget(
    Socket? Socket, EndPoint? AcceptedFrom, string Host, int Port, TimeSpan DialTimeout,
    Func<string, CancellationToken, Task<IPAddress[]>>? Resolve, TimeSpan CloseTimeout) : Attributes.IAttribute
{
    /// <summary>A socket already connected (accepted by a listener from <paramref name="remote"/>).</summary>
    public static SocketTarget Accepted(Socket socket, EndPoint remote, TimeSpan? closeTimeout = null) =>
        new(socket, remote, "", 0, TimeSpan.Zero, null, closeTimeout ?? SocketConnectionStage.CloseTimeout);

    /// <summary><paramref name="host"/> (an IP literal, or a name resolved at the dial, by DNS unless <paramref name="resolve"/> is given).</summary>
    public static SocketTarget Dial(string host, int port, TimeSpan dialTimeout, Func<string, CancellationToken, Task<IPAddress[]>>? resolve = null) =>
        new(null, null, host, port, dialTimeout, resolve, SocketConnectionStage.CloseTimeout);
}

/// <summary>A <see cref="SocketConnectionStage"/>'s read buffer, for specs (see <see cref="PooledBufferProbe"/>).</summary>
internal sealed class ReadBufferProbe : PooledBufferProbe;

/// <summary>
/// One TCP connection as a flow over a <see cref="Socket"/>: what comes in is written, what the remote sends comes
/// out. Either given an accepted socket or dialling one itself (the materialised task gives the remote's address).
/// <para>
/// Writes are paced by completion: the next element is pulled only once the socket has taken the last one, so the
/// stage is done with each element before it pulls again (<see cref="IP2PTransport.TakesWritesBeforePulling"/>).
/// Reads happen only on demand, into one buffer, and go out as a copy or, with <see cref="LendReads"/>, as a view.
/// An idle connection holds no read buffer: when the socket has nothing to read, the stage waits for readability
/// with a zero-byte receive and rents its buffer from the shared pool only once bytes are there (as Kestrel does),
/// giving it back when the socket is drained again.
/// Socket operations that complete at once are handled at once; only the ones that wait cross to the stage through
/// an async callback.
/// </para>
/// <para>
/// Closing follows TCP half-close: when upstream completes, the write side is shut down (FIN) once the last write is
/// through, and reading goes on until the remote's FIN (or until downstream cancels); the socket is closed when both
/// directions are done. A failure or a failing cancellation aborts the connection (RST).
/// </para>
/// </summary>
internal sealed class SocketConnectionStage : GraphStageWithMaterializedValue<FlowShape<ByteString, ByteString>, Task<EndPoint>>
{
    /// <summary>
    /// The most one read takes from the socket at first. A read that fills the buffer doubles it for the next, up to
    /// <see cref="MaxReadBufferSize"/>: a peer that streams gets fewer, larger reads (docs/performance.md).
    /// </summary>
    internal const int ReadBufferSize = 64 * 1024;

    internal const int MaxReadBufferSize = 256 * 1024;

    // Null for a stage of any connection, whose target comes with each materialisation as an attribute.
    private readonly SocketTarget? _target;

    private readonly Inlet<ByteString> _in = new("socket.in");
    private readonly Outlet<ByteString> _out = new("socket.out");

    /// <summary>A connection over a socket that is already connected (accepted by a listener from <paramref name="remote"/>).</summary>
    public SocketConnectionStage(Socket accepted, EndPoint remote, TimeSpan? closeTimeout = null)
        : this(SocketTarget.Accepted(accepted, remote, closeTimeout))
    {
    }

    /// <summary>
    /// A connection that dials <paramref name="host"/> (an IP literal, or a name resolved now, by DNS unless specs pass
    /// <paramref name="resolve"/>) when run.
    /// </summary>
    public SocketConnectionStage(string host, int port, TimeSpan dialTimeout, Func<string, CancellationToken, Task<IPAddress[]>>? resolve = null)
        : this(SocketTarget.Dial(host, port, dialTimeout, resolve))
    {
    }

    /// <summary>
    /// A connection to <paramref name="target"/>, or, when null, to the <see cref="SocketTarget"/> each materialisation
    /// carries as an attribute: a stage that a graph fused once can hold for every connection (see
    /// src/TendermintActors/Peers/Internal/LowerBlueprint.cs).
    /// </summary>
    public SocketConnectionStage(SocketTarget? target = null)
    {
        _target = target;
        Shape = new FlowShape<ByteString, ByteString>(_in, _out);
    }

    public override FlowShape<ByteString, ByteString> Shape { get; }

    protected override Attributes InitialAttributes { get; } = Attributes.CreateName("socket-connection");

    public override ILogicAndMaterializedValue<Task<EndPoint>> CreateLogicAndMaterializedValue(Attributes inheritedAttributes)
    {
        var connected = new TaskCompletionSource<EndPoint>(TaskCreationOptions.RunContinuationsAsynchronously);
        var target = _target ?? inheritedAttributes.GetAttribute<SocketTarget>()
            ?? throw new InvalidOperationException("a socket stage built without its target was materialised without one as an attribute");
        return new LogicAndMaterializedValue<Task<EndPoint>>(
            new Logic(this, target, inheritedAttributes.GetAttribute<KillSwitch>(), connected, inheritedAttributes.GetAttribute<LendReads>() is not null,
                inheritedAttributes.GetAttribute<ReadBufferProbe>(), inheritedAttributes.GetAttribute<UnfinishedSockets>()), connected.Task);
    }

    /// <summary>
    /// Connects to the first of <paramref name="host"/>'s addresses that answers. As Go's dialer does, what is left of
    /// <paramref name="timeout"/> is shared among the addresses not yet tried, so one that never answers cannot use it
    /// all (the stage's own timer still bounds the whole dial). <paramref name="resolve"/> stands in for DNS in specs.
    /// </summary>
    internal static async Task<(Socket Socket, EndPoint Remote)> DialAsync(string host, int port, TimeSpan timeout, CancellationToken cancel,
        Func<string, CancellationToken, Task<IPAddress[]>>? resolve = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        var addresses = IPAddress.TryParse(host, out var ip) ? [ip]
            : await (resolve ?? System.Net.Dns.GetHostAddressesAsync)(host, cancel).ConfigureAwait(false);
        if (addresses.Length == 0)
            throw new SocketException((int)SocketError.HostNotFound);
        Exception? last = null;
        for (var i = 0; i < addresses.Length; i++)
        {
            var socket = new Socket(addresses[i].AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            var left = deadline - DateTime.UtcNow;
            if (left > TimeSpan.Zero && i < addresses.Length - 1)
                attempt.CancelAfter(left / (addresses.Length - i));
            try
            {
                var remote = new IPEndPoint(addresses[i], port);
                await socket.ConnectAsync(remote, attempt.Token).ConfigureAwait(false);
                return (socket, Normalise(remote));
            }
            catch (Exception e) when (e is SocketException || (e is OperationCanceledException && !cancel.IsCancellationRequested))
            {
                socket.Dispose();
                last = e is SocketException ? e : new SocketException((int)SocketError.TimedOut);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        throw last!;
    }

    /// <summary>
    /// At most this many bytes written but not yet sent wait in the kernel (Linux's TCP_NOTSENT_LOWAT; the window, and
    /// so what is in flight, is not limited). Without it the kernel takes megabytes (its buffers autotune), and a
    /// message the MConnection's scheduler puts first still waits behind all of them: a 64-byte round trip during a
    /// bulk transfer with rate limits off took ~290 ms at the median (link benchmark), and 20–72 ms with this.
    /// </summary>
    internal const int UnsentBytesLimit = 128 * 1024;

    /// <summary>
    /// How long closing may take once the stream above is done with the connection both ways: the last write waiting
    /// for a remote that no longer reads (then the connection is reset), or the remote's FIN (then it is closed).
    /// </summary>
    internal static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(10);

    private const int IpProtoTcp = 6;
    private const int TcpNotSentLowAt = 25;

    private static void LimitUnsentBytes(Socket socket)
    {
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            socket.SetRawSocketOption(IpProtoTcp, TcpNotSentLowAt, BitConverter.GetBytes(UnsentBytesLimit));
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ProtocolOption or SocketError.InvalidArgument)
        {
            // A kernel without the option (before 3.12): the socket works as it is.
        }
    }

    /// <summary>An address as the switch compares them: IPv4 peers on a dual-stack socket as plain IPv4.</summary>
    internal static EndPoint Normalise(EndPoint? endPoint) => endPoint switch
    {
        IPEndPoint { Address.IsIPv4MappedToIPv6: true } ip => new IPEndPoint(ip.Address.MapToIPv4(), ip.Port),
        { } other => other,
        null => new IPEndPoint(IPAddress.None, 0),
    };

    /// <summary>
    /// The arrays behind a ByteString, to hand to the socket without a copy. Akka (1.5.74) keeps this accessor
    /// internal; should an upgrade remove it, the first write fails (MissingMethodException), and so does a spec
    /// (TcpTransportSpecs, the gathered write).
    /// </summary>
    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "get_Buffers")]
    internal static extern IList<ArraySegment<byte>> SegmentsOf(ByteString bytes);

    private readonly record struct Completion(int Bytes, SocketError Error, bool Write = false, Exception? Aborted = null);

    /// <summary>
    /// Ends one materialisation of the stage at once, given to it as an attribute: the socket is reset and the stream
    /// fails with the reason, as a kill switch stage between the socket and what is joined to it would do, without
    /// the stage (its logic, connection, callback and log source cost an idle connection ~0.8 KiB).
    /// </summary>
    internal sealed class KillSwitch : Attributes.IAttribute
    {
        // Null until the stage starts or the switch is used: then the stage's logic, or the reason it was aborted with.
        private object? _state;

        /// <summary>Aborts the connection with <paramref name="reason"/>: at once if its stage runs, else when it starts.</summary>
        public void Abort(Exception reason)
        {
            if (Interlocked.CompareExchange(ref _state, reason, null) is Logic logic)
                logic._onCompleted(new Completion(0, SocketError.Success, Aborted: reason));
        }

        /// <summary>The stage has started: null, or the reason it was aborted with before.</summary>
        internal Exception? Attach(GraphStageLogic logic) => Interlocked.CompareExchange(ref _state, logic, null) as Exception;
    }

    private sealed class Logic : TimerLogic
    {
        private const string DialTimer = "dial-timeout";
        private const string CloseTimer = "close-timeout";

        private readonly SocketConnectionStage _stage;
        private readonly SocketTarget _target;
        private readonly KillSwitch? _killSwitch;
        private readonly TaskCompletionSource<EndPoint> _connected;
        private readonly bool _lendReads;
        // One async callback for reads and writes that complete later (each costs an idle connection ~0.2 KiB).
        internal readonly Action<Completion> _onCompleted; // and for the kill switch's abort
        private CancellationTokenSource? _dialCancel; // while dialling
        private Task<(Socket Socket, EndPoint Remote)>? _dial;
        private Socket? _socket;
        private SocketAsyncEventArgs? _readArgs;
        private SocketAsyncEventArgs? _writeArgs;
        private readonly ReadBufferProbe? _probe;
        // Counts this connection from its connect until its FIN is out or it is closed (_counted meanwhile).
        private readonly UnfinishedSockets? _unfinished;
        private bool _counted;
        // Rented from the pool while bytes are coming, null while the connection is idle.
        private byte[]? _readBuffer;
        // The size the next rented buffer gets: grows when reads fill the buffer, and is kept while none is held.
        private int _readBufferSize = ReadBufferSize;
        // Downstream holds a view of _readBuffer (lent) until it pulls again.
        private bool _readBufferLent;
        // The read in progress is a zero-byte receive, waiting for the socket to become readable.
        private bool _awaitingData;
        // The socket just became readable: the next read must take what is there, even when only a FIN is (which
        // leaves nothing for FIONREAD to count).
        private bool _readable;
        private bool _lastReadFilled;
        private bool _reading;
        private bool _writing;
        private bool _upstreamFinished;
        private bool _writeShut;
        private bool _readDone; // nothing more goes downstream (the remote's FIN, or downstream cancelled)
        private bool _remoteFinished; // the remote's FIN seen (or the connection failed while draining)
        private bool _closed;

        public Logic(SocketConnectionStage stage, SocketTarget target, KillSwitch? killSwitch, TaskCompletionSource<EndPoint> connected,
            bool lendReads, ReadBufferProbe? probe, UnfinishedSockets? unfinished)
            : base(stage.Shape)
        {
            _unfinished = unfinished;
            _stage = stage;
            _target = target;
            _killSwitch = killSwitch;
            _connected = connected;
            _lendReads = lendReads;
            _probe = probe;
            _onCompleted = GetAsyncCallback<Completion>(OnCompleted);
            SetHandler(stage._in, new InHandlerOf<Logic>(this, static l => l.OnPush(), static l => l.OnUpstreamFinish(), static (l, e) => l.Abort(e)));
            SetHandler(stage._out, new OutHandlerOf<Logic>(this, static l => l.OnPull(), static (l, cause) => l.OnDownstreamFinish(cause)));
        }

        private bool Connected => _socket is not null;

        public override void PreStart()
        {
            // Both ports may close while a write or the dial is still under way: the stage ends itself (CloseWhenDone).
            SetKeepGoing(true);
            if (_killSwitch?.Attach(this) is { } abortedBefore)
            {
                _target.Socket?.Dispose();
                Abort(abortedBefore);
                return;
            }
            if (_target.Socket is { } accepted)
            {
                OnConnected(accepted, _target.AcceptedFrom!);
                return;
            }
            ScheduleOnce(DialTimer, _target.DialTimeout);
            _dialCancel = new CancellationTokenSource();
            var onDialled = GetAsyncCallback<Task<(Socket Socket, EndPoint Remote)>>(OnDialled);
            _dial = DialAsync(_target.Host, _target.Port, _target.DialTimeout, _dialCancel.Token, _target.Resolve);
            _dial.ContinueWith(onDialled, TaskContinuationOptions.ExecuteSynchronously);
            // Observed here too: a dial that fails after the stage stopped is reported to no one.
            _dial.ContinueWith(static d => _ = d.Exception, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously);
        }

        protected override void OnTimer(object timerKey)
        {
            if (Equals(timerKey, CloseTimer))
            {
                if (_writeShut)
                    Close(); // all written; the remote just never closed in turn
                else
                    Abort(new IOException($"the remote did not take our last writes within {_target.CloseTimeout.TotalSeconds:0.###} s of the close"));
                return;
            }
            if (!Equals(timerKey, DialTimer)) return;
            _dialCancel?.Cancel();
            Fail(new IOException(
                $"cannot dial {_target.Host}:{_target.Port}: no connection within {_target.DialTimeout.TotalSeconds:0.###} s"));
        }

        private void OnDialled(Task<(Socket Socket, EndPoint Remote)> dial)
        {
            CancelTimer(DialTimer);
            if (dial.IsCompletedSuccessfully)
            {
                OnConnected(dial.Result.Socket, dial.Result.Remote);
                return;
            }
            var error = dial.Exception?.GetBaseException() ?? new OperationCanceledException();
            Fail(new IOException($"cannot dial {_target.Host}:{_target.Port}: {error.Message}", error));
        }

        private void OnConnected(Socket socket, EndPoint remote)
        {
            _socket = socket;
            if (_unfinished is not null)
            {
                _unfinished.Started();
                _counted = true;
            }
            try
            {
                socket.NoDelay = true;
                LimitUnsentBytes(socket);
            }
            catch (SocketException e)
            {
                // Reset before we got to it: as any other failure of the connection, not of the stage's code.
                Abort(new IOException($"connection failed: {e.Message}", e));
                return;
            }
            // One handler for both, shared by every connection: the logic rides on the event args.
            _readArgs = new SocketAsyncEventArgs { UserToken = this };
            _readArgs.Completed += CompletedLater;
            _writeArgs = new SocketAsyncEventArgs { UserToken = this };
            _writeArgs.Completed += CompletedLater;
            _connected.TrySetResult(remote);

            if (_upstreamFinished)
                ShutDownWrites();
            else
                Pull(_stage._in);
            if (IsAvailable(_stage._out))
                StartRead();
            else
                CloseWhenDone(); // downstream may have gone while we dialled: drain
        }

        private void OnPull()
        {
            // Whatever the last push lent is done with.
            _readBufferLent = false;
            if (Connected && !_reading)
                StartRead();
        }

        private void StartRead()
        {
            // Reads that complete at once are handled in this loop; while draining (below) a few in a row at most,
            // then the next goes through the mailbox, so a remote that floods us cannot hold the stage.
            for (var drained = 0; ; drained++)
            {
                _reading = true;
                // Pulled again (or draining), so nothing holds what the last read lent: the buffer may be replaced,
                // or given back when the socket has nothing more for now (then a zero-byte receive waits for more).
                if (_readBuffer is not null && !_lastReadFilled && !_readable && NothingToRead())
                    ReturnReadBuffer();
                _readable = false;
                if (_readBuffer is null)
                {
                    _awaitingData = true;
                    _readArgs!.SetBuffer(Memory<byte>.Empty);
                }
                else
                {
                    if (_lastReadFilled && _readBuffer.Length < MaxReadBufferSize)
                    {
                        _readBufferSize = _readBuffer.Length * 2;
                        ReturnReadBuffer();
                        RentReadBuffer();
                    }
                    _readArgs!.SetBuffer(_readBuffer, 0, _readBuffer!.Length);
                }
                bool pending;
                try
                {
                    pending = _socket!.ReceiveAsync(_readArgs);
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    Abort(new IOException($"read failed: {e.Message}", e));
                    return;
                }
                if (pending)
                    return;
                var read = new Completion(_readArgs.BytesTransferred, _readArgs.SocketError);
                if (drained >= 16)
                {
                    _onCompleted(read);
                    return;
                }
                if (!HandleRead(read))
                    return;
            }
        }

        private void OnRead(Completion read)
        {
            if (HandleRead(read))
                StartRead();
        }

        /// <summary>Whether the socket has no bytes waiting (FIONREAD); when in doubt, reading is the safe answer.</summary>
        private bool NothingToRead()
        {
            try
            {
                return _socket!.Available == 0;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return false; // the read reports the failure
            }
        }

        /// <summary>
        /// Whether a read would not wait although FIONREAD counts no bytes: the remote's FIN (or an error) is pending.
        /// A zero-timeout poll, so it never blocks; when in doubt, reading is the safe answer.
        /// </summary>
        private bool FinOrErrorPending()
        {
            try
            {
                return _socket!.Poll(0, SelectMode.SelectRead);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return true;
            }
        }

        private void RentReadBuffer()
        {
            _readBuffer = ArrayPool<byte>.Shared.Rent(_readBufferSize);
            _probe?.Rented(_readBuffer.Length);
        }

        private void ReturnReadBuffer()
        {
            if (_readBuffer is null) return;
            ArrayPool<byte>.Shared.Return(_readBuffer);
            _readBuffer = null;
            _probe?.Returned();
        }

        /// <summary>Takes one read's result; true when the next read should start at once (draining).</summary>
        private bool HandleRead(Completion read)
        {
            _reading = false;
            if (_closed) return false;
            if (_awaitingData)
            {
                _awaitingData = false;
                if (read.Error == SocketError.Success)
                {
                    // A zero-byte receive may also complete on a stale readiness event (the bytes it announced were
                    // read already): then wait again, still without a buffer, rather than park a read in one.
                    if (NothingToRead() && !FinOrErrorPending())
                        return true;
                    // Readable: bytes or the remote's FIN are there, and the real read that follows takes them.
                    RentReadBuffer();
                    _readable = true;
                    return true;
                }
            }
            if (read.Error != SocketError.Success)
            {
                // While draining, our FIN is out or on its way and the stream above is done: a reset changes nothing.
                if (_readDone && _writeShut)
                {
                    _remoteFinished = true;
                    CloseWhenDone();
                }
                else
                    Abort(TransportError("read", read.Error));
                return false;
            }
            if (read.Bytes == 0)
            {
                // The remote's FIN: nothing more will come, but our writes may go on (half-close). Nothing downstream
                // holds a view of the buffer (we read only when pulled), and no read will need it again.
                ReturnReadBuffer();
                _remoteFinished = true;
                if (!_readDone)
                {
                    _readDone = true;
                    Complete(_stage._out);
                }
                CloseWhenDone();
                return false;
            }
            _lastReadFilled = read.Bytes == _readBuffer!.Length;
            // Downstream stopped reading: what still comes is dropped until the remote's FIN (see CloseWhenDone).
            if (_readDone)
                return true;
            _readBufferLent = _lendReads;
            Push(_stage._out, _lendReads
                ? ByteString.FromBytes(_readBuffer, 0, read.Bytes)
                : ByteString.FromBytes(_readBuffer.AsSpan(0, read.Bytes).ToArray()));
            return false;
        }

        private void OnDownstreamFinish(Exception cause)
        {
            if (cause is not SubscriptionWithCancelException.NonFailureCancellation)
            {
                Abort(cause);
                return;
            }
            _readDone = true;
            CloseWhenDone();
        }

        private void OnPush()
        {
            var bytes = Grab(_stage._in);
            if (bytes.IsEmpty)
            {
                Pull(_stage._in);
                return;
            }
            var buffers = SegmentsOf(bytes);
            if (buffers.Count == 1)
            {
                _writeArgs!.BufferList = null;
                _writeArgs.SetBuffer(buffers[0].Array, buffers[0].Offset, buffers[0].Count);
            }
            else
            {
                _writeArgs!.SetBuffer(null, 0, 0);
                _writeArgs.BufferList = [.. buffers];
            }
            StartWrite();
        }

        private void StartWrite()
        {
            _writing = true;
            bool pending;
            try
            {
                pending = _socket!.SendAsync(_writeArgs!);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                Abort(new IOException($"write failed: {e.Message}", e));
                return;
            }
            if (!pending)
                OnWrite(new Completion(_writeArgs!.BytesTransferred, _writeArgs.SocketError));
        }

        private static readonly EventHandler<SocketAsyncEventArgs> CompletedLater = static (_, args) =>
        {
            var logic = (Logic)args.UserToken!;
            logic._onCompleted(new Completion(args.BytesTransferred, args.SocketError, Write: ReferenceEquals(args, logic._writeArgs)));
        };

        private void OnCompleted(Completion completion)
        {
            if (completion.Aborted is { } reason)
                Abort(reason);
            else if (completion.Write)
                OnWrite(completion);
            else
                OnRead(completion);
        }

        private void OnWrite(Completion write)
        {
            _writing = false;
            if (_closed) return;
            if (write.Error != SocketError.Success)
            {
                Abort(TransportError("write", write.Error));
                return;
            }
            var args = _writeArgs!;
            var remaining = (args.BufferList is { } list ? list.Sum(s => s.Count) : args.Count) - write.Bytes;
            if (remaining > 0)
            {
                // A stream socket sends all it is given before it completes; should one stop short, send the rest.
                var rest = (args.BufferList is { } segments ? [.. segments.SelectMany(s => s)] : args.Buffer.AsSpan(args.Offset, args.Count).ToArray())[write.Bytes..];
                args.BufferList = null;
                args.SetBuffer(rest, 0, rest.Length);
                StartWrite();
                return;
            }
            if (_upstreamFinished)
                ShutDownWrites();
            else
                Pull(_stage._in);
        }

        private void OnUpstreamFinish()
        {
            _upstreamFinished = true;
            if (Connected && !_writing)
                ShutDownWrites();
            else
                CloseWhenDone();
        }

        /// <summary>Our FIN, once everything written is through.</summary>
        private void ShutDownWrites()
        {
            if (_writeShut) return;
            _writeShut = true;
            try
            {
                _socket!.Shutdown(SocketShutdown.Send);
            }
            catch (SocketException e)
            {
                Abort(new IOException($"closing the connection failed: {e.Message}", e));
                return;
            }
            Uncount();
            CloseWhenDone();
        }

        /// <summary>
        /// Ends the stage once both directions are done. Closing waits for the remote's FIN even when the stream above
        /// has stopped reading, dropping what still arrives: a socket closed with unread bytes sends a reset, and a
        /// reset makes the remote throw away what it has not read yet of ours. All of it is bounded by
        /// <see cref="CloseTimeout"/> from the moment the stream above is done both ways.
        /// </summary>
        private void CloseWhenDone()
        {
            if (_closed || !_readDone) return;
            if (!Connected)
            {
                // Done with before the dial even finished: nothing was written, so there is nothing to wait for.
                if (_upstreamFinished)
                {
                    _dialCancel?.Cancel();
                    CompleteStage();
                }
                return;
            }
            if (_writeShut && _remoteFinished)
            {
                Close();
                return;
            }
            if (!_remoteFinished && !_reading)
                StartRead(); // draining
            if (_upstreamFinished && !_closed && !IsTimerActive(CloseTimer))
                ScheduleOnce(CloseTimer, _target.CloseTimeout);
        }

        private void Close()
        {
            CloseSocket();
            CompleteStage();
        }

        /// <summary>A normal close: the kernel sends what is still queued, then our FIN if it is not out yet.</summary>
        private void CloseSocket()
        {
            _closed = true;
            _socket!.Dispose();
            Uncount();
        }

        /// <summary>Stopping the stream can no longer reset this connection: it is out of the unfinished count.</summary>
        private void Uncount()
        {
            if (!_counted) return;
            _counted = false;
            _unfinished!.Finished();
        }

        private void Abort(Exception cause)
        {
            AbortSocket();
            Fail(cause);
        }

        /// <summary>Fails the stage, and with the same cause the connection's task if it was not connected yet.</summary>
        private void Fail(Exception cause)
        {
            _connected.TrySetException(cause);
            FailStage(cause);
        }

        private void AbortSocket()
        {
            if (_closed || _socket is null) return;
            _closed = true;
            try
            {
                // Linger zero: a reset, not a FIN, so the remote knows the connection was not ended cleanly.
                _socket.LingerState = new LingerOption(true, 0);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // already gone; disposing is all that is left
            }
            _socket.Dispose();
            Uncount();
        }

        private static IOException TransportError(string operation, SocketError error)
        {
            var socketError = new SocketException((int)error);
            return new IOException($"{operation} failed: {socketError.Message}", socketError);
        }

        public override void PostStop()
        {
            // Stopped from outside (the materializer or the actor system shutting down) once our FIN is out: what we
            // wrote is the kernel's to deliver, so close normally. Any other unfinished connection is reset.
            if (_writeShut && !_closed)
                CloseSocket();
            AbortSocket();
            _dialCancel?.Cancel();
            // A dial that completes after the stage stopped leaves a socket no one else will close.
            if (_socket is null)
                _dial?.ContinueWith(static d => d.Result.Socket.Dispose(), TaskContinuationOptions.OnlyOnRanToCompletion);
            _connected.TrySetException(new IOException(_target.Socket is null
                ? $"cannot dial {_target.Host}:{_target.Port}: the connection was stopped before it was made"
                : "the connection was stopped"));
            // Back to the pool only when nothing can touch it any more: no receive in flight (the kernel writes into
            // the buffer until it completes) and no view of it downstream. Otherwise the collector takes it.
            if (_readBuffer is not null && !_reading && !_readBufferLent)
                ReturnReadBuffer();
            _readArgs?.Dispose();
            _writeArgs?.Dispose();
        }
    }
}
