using System.Net;
using System.Net.Sockets;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.Stage;

namespace TendermintActors.Transport.Internal;

/// <summary>
/// A listening socket as a source of connections: binds when run (the materialised task completes once listening,
/// or fails naming the address) and accepts one connection per demand, so a slow consumer leaves the rest in the
/// kernel's backlog. Unbinding, cancelling or failing closes the listener; connections already handed out live on.
/// </summary>
internal sealed class SocketListenerStage(string host, int port, int backlog)
    : GraphStageWithMaterializedValue<SourceShape<TransportConnection>, Task<TransportBinding>>
{
    private readonly string _host = host;
    private readonly int _port = port;
    private readonly int _backlog = backlog;
    private readonly Outlet<TransportConnection> _out = new("socket-listener.out");

    public override SourceShape<TransportConnection> Shape => new(_out);

    protected override Attributes InitialAttributes { get; } = Attributes.CreateName("socket-listener");

    public override ILogicAndMaterializedValue<Task<TransportBinding>> CreateLogicAndMaterializedValue(Attributes inheritedAttributes)
    {
        var bound = new TaskCompletionSource<TransportBinding>(TaskCreationOptions.RunContinuationsAsynchronously);
        return new LogicAndMaterializedValue<Task<TransportBinding>>(new Logic(this, bound), bound.Task);
    }

    private readonly record struct Accepted(Socket? Socket, SocketError Error);

    private sealed class Logic : GraphStageLogic
    {
        private readonly SocketListenerStage _stage;
        private readonly TaskCompletionSource<TransportBinding> _bound;
        private readonly TaskCompletionSource _unbound = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Action<Accepted> _onAccepted;
        private readonly SocketAsyncEventArgs _acceptArgs = new();
        private Socket? _listener;
        private bool _accepting;
        private bool _closed;

        public Logic(SocketListenerStage stage, TaskCompletionSource<TransportBinding> bound) : base(stage.Shape)
        {
            _stage = stage;
            _bound = bound;
            _onAccepted = GetAsyncCallback<Accepted>(OnAccepted);
            _acceptArgs.Completed += (_, args) => _onAccepted(new Accepted(args.AcceptSocket, args.SocketError));
            SetHandler(stage._out, onPull: OnPull, onDownstreamFinish: _ => CompleteStage());
        }

        public override void PreStart()
        {
            var where = $"{_stage._host}:{_stage._port}";
            try
            {
                var address = IPAddress.TryParse(_stage._host, out var ip) ? ip
                    : System.Net.Dns.GetHostAddresses(_stage._host).FirstOrDefault() ?? throw new SocketException((int)SocketError.HostNotFound);
                var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                try
                {
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
            catch (SocketException e)
            {
                var error = new IOException($"cannot listen on {where}: {e.Message}", e);
                _bound.TrySetException(error);
                FailStage(error);
                return;
            }
            var unbind = GetAsyncCallback(CompleteStage);
            _bound.TrySetResult(new TransportBinding(SocketConnectionStage.Normalise(_listener.LocalEndPoint), () =>
            {
                unbind();
                return _unbound.Task;
            }));
        }

        private void OnPull()
        {
            if (_accepting || _closed) return;
            _accepting = true;
            _acceptArgs.AcceptSocket = null;
            bool pending;
            try
            {
                pending = _listener!.AcceptAsync(_acceptArgs);
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            if (!pending)
                OnAccepted(new Accepted(_acceptArgs.AcceptSocket, _acceptArgs.SocketError));
        }

        private void OnAccepted(Accepted accepted)
        {
            _accepting = false;
            if (_closed)
            {
                accepted.Socket?.Dispose();
                return;
            }
            if (accepted.Error != SocketError.Success || accepted.Socket is null)
            {
                accepted.Socket?.Dispose();
                // A connection that went away before we took it (reset in the backlog) is not the listener's end.
                if (accepted.Error is SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Interrupted)
                {
                    OnPull();
                    return;
                }
                var error = new SocketException((int)accepted.Error);
                FailStage(new IOException($"listening on {_stage._host}:{_stage._port} failed: {error.Message}", error));
                return;
            }
            var socket = accepted.Socket;
            EndPoint remote;
            try
            {
                remote = SocketConnectionStage.Normalise(socket.RemoteEndPoint);
            }
            catch (SocketException)
            {
                // Reset while it waited in the backlog (no longer connected): there is no one to hand it to.
                socket.Dispose();
                OnPull();
                return;
            }
            Push(_stage._out, new TransportConnection(
                remote, Flow.FromGraph(new SocketConnectionStage(socket, remote)).MapMaterializedValue(_ => Akka.NotUsed.Instance)));
        }

        public override void PostStop()
        {
            _closed = true;
            _listener?.Dispose();
            _acceptArgs.Dispose();
            _bound.TrySetException(new IOException($"cannot listen on {_stage._host}:{_stage._port}: the listener was stopped"));
            _unbound.TrySetResult();
        }
    }
}
