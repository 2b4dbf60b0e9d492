using System.Net;
using System.Net.Sockets;
using Akka.Event;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.Stage;

namespace TendermintActors.Transport.Internal;

/// <summary>
/// A listening socket as a source of connections: binds when run (the materialised task completes once listening,
/// or fails naming the address) and accepts one connection per demand, so a slow consumer leaves the rest in the
/// kernel's backlog. Unbinding, cancelling or failing closes the listener; connections already handed out live on.
/// </summary>
/// <param name="host">The address (or a name, resolved once, first address) to listen on.</param>
/// <param name="port">The port to listen on; 0 picks a free one (the binding tells which).</param>
/// <param name="backlog">Connections the kernel may hold that we have not accepted yet.</param>
/// <param name="acceptAsync">
/// Starts an accept on the listening socket as <see cref="Socket.AcceptAsync(SocketAsyncEventArgs)"/> does (false:
/// completed already); specs pass one that fails as accept(2) can, the real one otherwise.
/// </param>
internal sealed class SocketListenerStage(string host, int port, int backlog, Func<Socket, SocketAsyncEventArgs, bool>? acceptAsync = null)
    : GraphStageWithMaterializedValue<SourceShape<TransportConnection>, Task<TransportBinding>>
{
    private readonly string _host = host;
    private readonly int _port = port;
    private readonly int _backlog = backlog;
    private readonly Func<Socket, SocketAsyncEventArgs, bool> _acceptAsync = acceptAsync ?? ((listener, args) => listener.AcceptAsync(args));
    private readonly Outlet<TransportConnection> _out = new("socket-listener.out");

    public override SourceShape<TransportConnection> Shape => new(_out);

    protected override Attributes InitialAttributes { get; } = Attributes.CreateName("socket-listener");

    public override ILogicAndMaterializedValue<Task<TransportBinding>> CreateLogicAndMaterializedValue(Attributes inheritedAttributes)
    {
        var bound = new TaskCompletionSource<TransportBinding>(TaskCreationOptions.RunContinuationsAsynchronously);
        return new LogicAndMaterializedValue<Task<TransportBinding>>(new Logic(this, bound), bound.Task);
    }

    private readonly record struct Accepted(SocketError Error);

    private sealed class Logic : TimerGraphStageLogic
    {
        private const string RetryTimer = "accept-retry";
        private static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(50);
        private static readonly TimeSpan LastRetry = TimeSpan.FromSeconds(1);

        private readonly SocketListenerStage _stage;
        private readonly TaskCompletionSource<TransportBinding> _bound;
        private readonly TaskCompletionSource _unbound = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Action<Accepted> _onAccepted;
        private readonly SocketAsyncEventArgs _acceptArgs = new();
        private Socket? _listener;
        private string _where; // the configured address until bound, then the bound one (the port picked for 0)
        private bool _accepting;
        private bool _inPull; // OnAccepted runs inside OnPull (the accept completed at once)
        private bool _acceptAgain; // ... and asked for the next accept
        private bool _closed;
        private TimeSpan _retryAfter = FirstRetry;
        // An accepted socket on its way from the completion thread to the stage: whichever of the stage and PostStop
        // takes it from here owns it, so one accepted just as the stage stops is closed, not leaked.
        private Socket? _handover;
        private volatile bool _stopped;

        public Logic(SocketListenerStage stage, TaskCompletionSource<TransportBinding> bound) : base(stage.Shape)
        {
            _stage = stage;
            _bound = bound;
            _where = $"{stage._host}:{stage._port}";
            _onAccepted = GetAsyncCallback<Accepted>(OnAccepted);
            _acceptArgs.Completed += (_, args) =>
            {
                Interlocked.Exchange(ref _handover, args.AcceptSocket)?.Dispose();
                if (_stopped)
                    Interlocked.Exchange(ref _handover, null)?.Dispose();
                else
                    _onAccepted(new Accepted(args.SocketError));
            };
            SetHandler(stage._out, onPull: OnPull, onDownstreamFinish: _ => CompleteStage());
        }

        public override void PreStart()
        {
            try
            {
                var address = IPAddress.TryParse(_stage._host, out var ip) ? ip
                    : System.Net.Dns.GetHostAddresses(_stage._host).FirstOrDefault() ?? throw new SocketException((int)SocketError.HostNotFound);
                var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    // "::" takes IPv4 peers too, as "0.0.0.0" does for IPv4 only.
                    if (address.Equals(IPAddress.IPv6Any))
                        listener.DualMode = true;
                    listener.Bind(new IPEndPoint(address, _stage._port));
                    listener.Listen(_stage._backlog);
                }
                catch
                {
                    listener.Dispose();
                    throw;
                }
                _listener = listener;
            }
            catch (Exception e) when (e is SocketException or ArgumentException)
            {
                var error = new IOException($"cannot listen on {_where}: {e.Message}", e);
                _bound.TrySetException(error);
                FailStage(error);
                return;
            }
            var local = SocketConnectionStage.Normalise(_listener.LocalEndPoint);
            _where = local.ToString()!;
            var unbind = GetAsyncCallback(CompleteStage);
            _bound.TrySetResult(new TransportBinding(local, () =>
            {
                unbind();
                return _unbound.Task;
            }));
        }

        protected override void OnTimer(object timerKey) => OnPull();

        private void OnPull()
        {
            // Accepts that complete at once are handled in this loop rather than by recursion: a backlog full of
            // connections reset while they waited is skipped one after another without growing the stack.
            do
            {
                _acceptAgain = false;
                if (_accepting || _closed || IsTimerActive(RetryTimer) || !IsAvailable(_stage._out)) return;
                _accepting = true;
                _acceptArgs.AcceptSocket = null;
                bool pending;
                try
                {
                    pending = _stage._acceptAsync(_listener!, _acceptArgs);
                }
                catch (ObjectDisposedException e)
                {
                    _accepting = false;
                    FailStage(new IOException($"listening on {_where} failed: the listener was closed", e));
                    return;
                }
                if (pending) return;
                _handover = _acceptArgs.AcceptSocket;
                _inPull = true;
                OnAccepted(new Accepted(_acceptArgs.SocketError));
                _inPull = false;
            }
            while (_acceptAgain);
        }

        /// <summary>Accepts the next connection: at once, or, inside <see cref="OnPull"/>'s loop, on its next turn.</summary>
        private void AcceptNext()
        {
            if (_inPull)
                _acceptAgain = true;
            else
                OnPull();
        }

        private void OnAccepted(Accepted accepted)
        {
            _accepting = false;
            var socket = Interlocked.Exchange(ref _handover, null);
            if (_closed)
            {
                socket?.Dispose();
                return;
            }
            if (accepted.Error != SocketError.Success || socket is null)
            {
                socket?.Dispose();
                switch (accepted.Error)
                {
                    case SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Interrupted:
                        // A connection that went away before we took it (reset in the backlog): not the listener's end.
                        AcceptNext();
                        return;
                    case SocketError.OperationAborted or SocketError.NotSocket or SocketError.InvalidArgument or SocketError.Shutdown:
                        // The listening socket itself is gone.
                        var error = new SocketException((int)accepted.Error);
                        FailStage(new IOException($"listening on {_where} failed: {error.Message}", error));
                        return;
                    default:
                        // Out of file descriptors or buffers, or a network error accept(2) reports for the connection:
                        // the listener itself is fine, so try again a little later rather than stop listening.
                        Log.Warning("Accepting a connection on {0} failed ({1}); trying again in {2} ms",
                            _where, new SocketException((int)accepted.Error).Message, _retryAfter.TotalMilliseconds);
                        ScheduleOnce(RetryTimer, _retryAfter);
                        _retryAfter = TimeSpan.FromTicks(Math.Min(_retryAfter.Ticks * 2, LastRetry.Ticks));
                        return;
                }
            }
            _retryAfter = FirstRetry;
            EndPoint remote;
            try
            {
                remote = SocketConnectionStage.Normalise(socket.RemoteEndPoint);
            }
            catch (SocketException)
            {
                // Reset while it waited in the backlog (no longer connected): there is no one to hand it to.
                socket.Dispose();
                AcceptNext();
                return;
            }
            var target = SocketTarget.Accepted(socket, remote);
            Push(_stage._out, new TransportConnection(remote, Flow.FromGraph(new SocketConnectionStage(target))
                .MapMaterializedValue(connected =>
                {
                    // The switch knows the remote's address already; a failure is the stream's to report.
                    connected.ContinueWith(static t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously);
                    return Akka.NotUsed.Instance;
                })) { Socket = target });
        }

        public override void PostStop()
        {
            _closed = true;
            _stopped = true;
            Interlocked.Exchange(ref _handover, null)?.Dispose();
            _listener?.Dispose();
            _acceptArgs.Dispose();
            _bound.TrySetException(new IOException($"cannot listen on {_where}: the listener was stopped"));
            _unbound.TrySetResult();
        }
    }
}
