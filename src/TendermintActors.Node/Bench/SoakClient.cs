using System.Buffers.Binary;
using Akka.Actor;
using TendermintActors.Protocol.Pex;
using TendermintActors.Streams;

namespace TendermintActors.Node.Bench;

/// <summary>
/// One well-behaved soak peer's side of its connection, the owner of its MConnection: every interval it sends the
/// next sequence number on the target's echo channel and on its sink channel, asks PEX for addresses once, and checks
/// that the echoes come back in order, none missing and none twice. Nothing is shared with the other peers: counts go
/// to the <see cref="SoakTally"/> as messages.
/// </summary>
internal sealed class SoakClient : ReceiveActor, IWithTimers
{
    public sealed record Attach(MConnectionHandle Handle);

    /// <summary>Stop sending; answered with <see cref="Result"/> once every echo is back, the connection ended, or after <paramref name="Timeout"/>.</summary>
    public sealed record Finish(TimeSpan Timeout);

    /// <param name="EchoSent">Sequence numbers the connection accepted on the echo channel.</param>
    /// <param name="Echoed">Echoes received in order.</param>
    /// <param name="Skipped">Sequence numbers an echo jumped over (lost unless the connection rejected as many).</param>
    /// <param name="Rejected">Messages the connection refused to queue (their numbers are skipped).</param>
    /// <param name="Duplicates">Echoes of a number already seen or passed.</param>
    /// <param name="SinkSent">Messages the connection accepted on the sink channel.</param>
    /// <param name="PexReceived">Messages received on the PEX channel (the answer to our request, the target's own requests).</param>
    /// <param name="StopReason">Set when the connection ended before <see cref="Finish"/>: the target (or the network) ended it.</param>
    public sealed record Result(long EchoSent, long Echoed, long Skipped, long Rejected, long Duplicates, long SinkSent, long PexReceived, string? StopReason)
    {
        /// <summary>Echo-channel messages that never came back: those accepted, less those echoed (a rejected one was never accepted).</summary>
        public long Lost => EchoSent - Echoed;
    }

    private sealed record Tick
    {
        public static readonly Tick Instance = new();
    }

    private sealed record FinishTimedOut
    {
        public static readonly FinishTimedOut Instance = new();
    }

    private readonly IActorRef _tally;
    private readonly TimeSpan _interval;
    private readonly int _size;
    private MConnectionHandle? _handle;
    private long _nextSeq;
    private long _expectedSeq;
    private long _echoSent;
    private long _echoed;
    private long _skipped;
    private long _rejected;
    private long _duplicates;
    private long _sinkSent;
    private long _pexReceived;
    private bool _stopped;
    private string? _stopReason;
    private IActorRef? _finisher;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef tally, TimeSpan interval, int size) => Akka.Actor.Props.Create(() => new SoakClient(tally, interval, size));

    public SoakClient(IActorRef tally, TimeSpan interval, int size)
    {
        _tally = tally;
        _interval = interval;
        _size = Math.Max(size, sizeof(long));
        Receive<Attach>(a =>
        {
            _handle = a.Handle;
            _handle.Send(PexConstants.Channel, PexMessage.EncodeRequest());
            // Each peer starts at its own point of the interval, so their messages spread over it.
            Timers.StartPeriodicTimer("tick", Tick.Instance, TimeSpan.FromTicks(Random.Shared.NextInt64(Math.Max(1, _interval.Ticks))), _interval);
        });
        Receive<Tick>(_ => Send());
        Receive<MConnection.MessagesReceived>(Received);
        Receive<MConnection.SendRejected>(rejected =>
        {
            if (rejected.Channel == SoakTarget.EchoChannel)
            {
                _echoSent--;
                _rejected++;
            }
            else if (rejected.Channel == SoakTarget.SinkChannel)
                _sinkSent--;
        });
        Receive<MConnection.Stopped>(stopped =>
        {
            _stopped = true;
            Timers.Cancel("tick");
            if (_finisher is null)
                _stopReason = stopped.Reason?.Message ?? "closed by the target";
            AnswerWhenDone();
        });
        Receive<MConnection.IEvent>(_ => { });
        Receive<Finish>(f =>
        {
            Timers.Cancel("tick");
            _finisher = Sender;
            Timers.StartSingleTimer("finish", FinishTimedOut.Instance, f.Timeout);
            AnswerWhenDone();
        });
        Receive<FinishTimedOut>(_ => Answer());
    }

    private void Send()
    {
        if (_handle is null || _stopped) return;
        var seq = _nextSeq++;
        // Fresh arrays: the connection keeps each until it is written.
        _handle.Send(SoakTarget.EchoChannel, Message(seq));
        _handle.Send(SoakTarget.SinkChannel, Message(seq));
        _echoSent++;
        _sinkSent++;
        _tally.Tell(new SoakTally.Sent(2));
    }

    private byte[] Message(long seq)
    {
        var message = new byte[_size];
        BinaryPrimitives.WriteInt64LittleEndian(message, seq);
        return message;
    }

    private void Received(MConnection.MessagesReceived received)
    {
        var echoes = 0;
        foreach (var message in received.Messages)
        {
            if (message.Channel == SoakTarget.EchoChannel && message.Message.Length >= sizeof(long))
            {
                var seq = BinaryPrimitives.ReadInt64LittleEndian(message.Message.Span);
                if (seq < _expectedSeq)
                    _duplicates++;
                else
                {
                    _skipped += seq - _expectedSeq;
                    _expectedSeq = seq + 1;
                    _echoed++;
                    echoes++;
                }
            }
            else if (message.Channel == PexConstants.Channel)
                _pexReceived++;
            _handle?.Ack(message.Channel);
        }
        if (echoes > 0) _tally.Tell(new SoakTally.Echoed(echoes));
        AnswerWhenDone();
    }

    private void AnswerWhenDone()
    {
        if (_finisher is not null && (_stopped || _echoed >= _echoSent))
            Answer();
    }

    private void Answer()
    {
        if (_finisher is null) return;
        _finisher.Tell(new Result(_echoSent, _echoed, _skipped, _rejected, _duplicates, _sinkSent, _pexReceived, _stopReason));
        _finisher = null;
        Timers.Cancel("finish");
    }
}
