using Akka.Event;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.Stage;
using Akka.Streams.TestKit;
using TendermintActors.Streams.Internal;
using TendermintActors.Tests.Support;
using Xunit.Abstractions;

namespace TendermintActors.Tests.Streams;

/// <summary>
/// The connection stages' timer logic (<see cref="TimerLogic"/>) on the test scheduler's virtual clock, through a stage
/// that runs the commands it reads ("once k 5", "repeat k 5", "cancel k", "active k", "log", "made") and says what
/// happened: each command's answer, and "fired k" when a timer fires.
/// </summary>
public sealed class TimerLogicSpecs(ITestOutputHelper output) : MConnectionSpec(output)
{
    private (TestPublisher.Probe<string> Commands, TestSubscriber.Probe<string> Events) Run()
    {
        var (commands, events) = this.SourceProbe<string>()
            .Via(new CommandStage())
            .ToMaterialized(this.SinkProbe<string>(), Keep.Both)
            .Run(Materializer);
        events.Request(1000);
        return (commands, events);
    }

    private static void Command(TestPublisher.Probe<string> commands, TestSubscriber.Probe<string> events, string command, string answer)
    {
        commands.SendNext(command);
        Assert.Equal(answer, events.ExpectNext(Timeout));
    }

    [Fact]
    public void A_single_timer_fires_once_after_its_delay_and_is_then_inactive()
    {
        var (commands, events) = Run();
        Command(commands, events, "once a 5", "ok");
        Command(commands, events, "active a", "True");

        Clock.Advance(TimeSpan.FromSeconds(4));
        Command(commands, events, "active a", "True"); // not fired: the answer comes before any "fired"
        Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("fired a", events.ExpectNext(Timeout));
        Command(commands, events, "active a", "False");

        Clock.Advance(TimeSpan.FromSeconds(10));
        Command(commands, events, "active a", "False"); // and it never fires again
    }

    [Fact]
    public void A_timer_scheduled_again_under_its_key_replaces_the_first_and_a_cancelled_one_never_fires()
    {
        var (commands, events) = Run();
        Command(commands, events, "once a 5", "ok");
        Command(commands, events, "once a 8", "ok");
        Command(commands, events, "once b 3", "ok");
        Command(commands, events, "cancel b", "ok");
        Command(commands, events, "active b", "False");

        Clock.Advance(TimeSpan.FromSeconds(5));
        Command(commands, events, "active a", "True"); // the first a (5 s) was replaced, b cancelled: nothing fired
        Clock.Advance(TimeSpan.FromSeconds(3));
        Assert.Equal("fired a", events.ExpectNext(Timeout));
        Clock.Advance(TimeSpan.FromSeconds(10));
        Command(commands, events, "active a", "False");
    }

    [Fact]
    public void A_repeating_timer_fires_every_interval_until_cancelled()
    {
        var (commands, events) = Run();
        Command(commands, events, "repeat r 2", "ok");
        Command(commands, events, "once s 3", "ok");

        Clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal("fired r", events.ExpectNext(Timeout));
        Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("fired s", events.ExpectNext(Timeout));
        Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("fired r", events.ExpectNext(Timeout));
        Command(commands, events, "active r", "True");

        Command(commands, events, "cancel r", "ok");
        Clock.Advance(TimeSpan.FromSeconds(2));
        Command(commands, events, "active r", "False"); // no "fired r" before this answer
    }

    [Fact]
    public void A_logic_makes_its_log_source_only_when_it_logs_and_its_timer_callback_only_when_a_timer_fires()
    {
        var (commands, events) = Run();
        Command(commands, events, "made", "log source False, callback False");
        Command(commands, events, "once a 5", "ok");
        Command(commands, events, "made", "log source False, callback False"); // a timer scheduled is not a timer fired
        Clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal("fired a", events.ExpectNext(Timeout));
        Command(commands, events, "made", "log source False, callback False"); // no timer left: dropped
        Command(commands, events, "log", "ok");
        Command(commands, events, "made", "log source True, callback False");
    }

    [Fact]
    public void A_logic_holds_its_timer_callback_only_while_it_has_a_timer_and_makes_it_again_at_the_next_fire()
    {
        // A connection whose traffic stopped: its rate decay and refill timers end, and their callback goes with them.
        var (commands, events) = Run();
        Command(commands, events, "repeat r 2", "ok");
        Command(commands, events, "once a 3", "ok");
        Clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal("fired r", events.ExpectNext(Timeout));
        Command(commands, events, "made", "log source False, callback True");
        Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("fired a", events.ExpectNext(Timeout));
        Command(commands, events, "made", "log source False, callback True"); // r still repeats
        Command(commands, events, "cancel r", "ok");
        Command(commands, events, "made", "log source False, callback False");

        Command(commands, events, "once b 1", "ok");
        Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("fired b", events.ExpectNext(Timeout));
        Command(commands, events, "made", "log source False, callback False");
        Clock.Advance(TimeSpan.FromSeconds(10));
        Command(commands, events, "active r", "False"); // the cancelled one never fired again
    }

    private sealed class CommandStage : GraphStage<FlowShape<string, string>>
    {
        private readonly Inlet<string> _in = new("commands.in");
        private readonly Outlet<string> _out = new("commands.out");

        public CommandStage() => Shape = new FlowShape<string, string>(_in, _out);

        public override FlowShape<string, string> Shape { get; }

        protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this);

        private sealed class Logic : TimerLogic
        {
            private readonly CommandStage _stage;

            public Logic(CommandStage stage) : base(stage.Shape)
            {
                _stage = stage;
                SetHandler(stage._in, onPush: OnCommand);
                SetHandler(stage._out, onPull: () => { });
            }

            public override void PreStart() => Pull(_stage._in);

            private void OnCommand()
            {
                var words = Grab(_stage._in).Split(' ');
                var answer = words[0] switch
                {
                    "once" => Do(() => ScheduleOnce(words[1], TimeSpan.FromSeconds(int.Parse(words[2])))),
                    "repeat" => Do(() => ScheduleRepeatedly(words[1], TimeSpan.FromSeconds(int.Parse(words[2])))),
                    "cancel" => Do(() => CancelTimer(words[1])),
                    "active" => IsTimerActive(words[1]).ToString(),
                    "log" => Do(() => Log.Debug("logged")),
                    "made" => $"log source {HasLogSource}, callback {HasTimerCallback}",
                    _ => throw new ArgumentException(words[0]),
                };
                Emit(_stage._out, answer);
                Pull(_stage._in);
            }

            private static string Do(Action action)
            {
                action();
                return "ok";
            }

            protected override void OnTimer(object timerKey) => Emit(_stage._out, $"fired {timerKey}");
        }
    }
}
