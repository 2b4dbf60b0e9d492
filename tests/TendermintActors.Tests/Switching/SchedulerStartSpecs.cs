using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Event;
using Akka.TestKit.Xunit2;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Switching;
using TendermintActors.Tests.Support;
using TendermintActors.Transport;

namespace TendermintActors.Tests.Switching;

/// <summary>
/// Akka's default scheduler starts its clock on first use and makes every caller wait for it on the thread pool; a
/// switch whose first use of it was a burst of inbound handshakes stalled for seconds. The switch starts it itself.
/// </summary>
public sealed class SchedulerStartSpecs() : TestKit(
    $"akka.scheduler.implementation = \"{typeof(RecordingScheduler).AssemblyQualifiedName}\"")
{
    [Fact]
    public async Task Switch_starts_the_scheduler_before_it_listens()
    {
        var scheduler = (RecordingScheduler)Sys.Scheduler;
        var network = InMemoryNetwork.Create(Sys);
        var reactor = CreateTestProbe();
        var registration = new ReactorRegistration("recorder", Sys.ActorOf(RecordingReactor.Props(reactor.Ref)), [new ChannelDescriptor(0x40, 1)]);
        Assert.Equal(0, scheduler.Scheduled); // nothing in the system (no timers, no reactor) has used it yet

        var sw = Sys.ActorOf(Switch.Props(NodeKey.Generate(), new Switch.Settings { ListenHost = "127.0.0.1", ListenPort = 0 },
            [registration], new InMemoryTransport(network)));
        var events = CreateTestProbe();
        sw.Tell(new Switch.Subscribe(events.Ref));
        var listening = await events.ExpectMsgAsync<Switch.Listening>(Dilated(TimeSpan.FromSeconds(15)));

        Assert.IsType<IPEndPoint>(listening.ListenAddress);
        Assert.True(scheduler.Scheduled > 0, "the switch listens before anything has started the scheduler's clock");
    }
}

/// <summary>Akka's default scheduler (it is sealed, so wrapped), counting what is scheduled on it.</summary>
public sealed class RecordingScheduler(Config config, ILoggingAdapter log) : SchedulerBase(config, log), IDisposable
{
    private readonly IScheduler _inner = new HashedWheelTimerScheduler(config, log);
    private int _scheduled;

    public int Scheduled => Volatile.Read(ref _scheduled);

    protected override DateTimeOffset TimeNow => _inner.Now;
    public override TimeSpan MonotonicClock => _inner.MonotonicClock;
    public override TimeSpan HighResMonotonicClock => _inner.HighResMonotonicClock;

    protected override void InternalScheduleOnce(TimeSpan delay, Action action, ICancelable cancelable)
    {
        Interlocked.Increment(ref _scheduled);
        _inner.Advanced.ScheduleOnce(delay, action, cancelable);
    }

    protected override void InternalScheduleOnce(TimeSpan delay, IRunnable action, ICancelable cancelable)
    {
        Interlocked.Increment(ref _scheduled);
        _inner.Advanced.ScheduleOnce(delay, action, cancelable);
    }

    protected override void InternalScheduleTellOnce(TimeSpan delay, ICanTell receiver, object message, IActorRef sender, ICancelable cancelable)
    {
        Interlocked.Increment(ref _scheduled);
        _inner.ScheduleTellOnce(delay, receiver, message, sender, cancelable);
    }

    protected override void InternalScheduleRepeatedly(TimeSpan initialDelay, TimeSpan interval, Action action, ICancelable cancelable)
    {
        Interlocked.Increment(ref _scheduled);
        _inner.Advanced.ScheduleRepeatedly(initialDelay, interval, action, cancelable);
    }

    protected override void InternalScheduleRepeatedly(TimeSpan initialDelay, TimeSpan interval, IRunnable action, ICancelable cancelable)
    {
        Interlocked.Increment(ref _scheduled);
        _inner.Advanced.ScheduleRepeatedly(initialDelay, interval, action, cancelable);
    }

    protected override void InternalScheduleTellRepeatedly(TimeSpan initialDelay, TimeSpan interval, ICanTell receiver, object message, IActorRef sender,
        ICancelable cancelable)
    {
        Interlocked.Increment(ref _scheduled);
        _inner.ScheduleTellRepeatedly(initialDelay, interval, receiver, message, sender, cancelable);
    }

    public void Dispose() => ((IDisposable)_inner).Dispose();
}
