using System.CommandLine;
using System.Text;
using System.Text.RegularExpressions;
using Akka.Actor;
using Akka.Configuration;
using Akka.Configuration.Hocon;
using TendermintActors.Configuration;
using TendermintActors.Node.Diagnostics;
using TendermintActors.Node.Runtime;
using TendermintActors.Pex;
using TendermintActors.Switching;
using TendermintActors.Transport;

namespace TendermintActors.Node.Commands;

/// <summary>
/// <c>tmactors config show|check|import</c>: the configuration <c>start</c> would run with (node.conf, the flags and
/// <c>--set</c> over the reference), printed as HOCON or validated, without starting anything; show and check take
/// <c>start</c>'s flags (<see cref="StartFlags"/>) and load through <see cref="StartCommand.LoadConfig"/>. Import
/// (<see cref="ConfigImportCommand"/>) writes a node.conf from CometBFT's config.toml.
/// </summary>
internal static partial class ConfigCommand
{
    public const string Ok = "configuration OK";

    public static Command Create(Option<string> home)
    {
        var command = new Command("config", "Show, check or import (from CometBFT's config.toml) the node's configuration");
        command.Subcommands.Add(Show(home));
        command.Subcommands.Add(Check(home));
        command.Subcommands.Add(ConfigImportCommand.Create(home));
        return command;
    }

    private static Command Show(Option<string> home)
    {
        var flags = new StartFlags(home);
        var command = flags.AddTo(new Command("show", "Print the effective tendermint.* configuration (node.conf, flags and --set over the defaults) as HOCON"));
        command.SetAction(parse =>
        {
            var stderr = parse.InvocationConfiguration.Error;
            if (!flags.TryRead(parse, out var options, out var error))
                return Fail("show", stderr, error!);
            Config config;
            try
            {
                config = StartCommand.LoadConfig(options);
            }
            catch (StartCommand.StartFailedException e)
            {
                return Fail("show", stderr, e.Message);
            }
            parse.InvocationConfiguration.Output.Write(Render(config));
            return 0;
        });
        return command;
    }

    private static Command Check(Option<string> home)
    {
        var flags = new StartFlags(home);
        var command = flags.AddTo(new Command("check", $"Validate the configuration as start does, without starting; prints \"{Ok}\" or the errors"));
        command.SetAction(parse =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            if (!flags.TryRead(parse, out var options, out var error))
                return Fail("check", stderr, error!);
            var errors = Validate(options, out var warnings);
            foreach (var warning in warnings)
                stderr.WriteLine($"warning: {warning}");
            if (errors.Count > 0)
            {
                foreach (var e in errors)
                    Fail("check", stderr, e);
                return Cli.Failure;
            }
            stdout.WriteLine(Ok);
            return 0;
        });
        return command;
    }

    /// <summary>
    /// Everything <c>start</c> checks before it binds a socket: the HOCON and its keys, <c>tendermint.p2p</c> and
    /// <c>tendermint.rpc</c>, the diagnostics channels, the node key, and the switch's and PEX's settings. Checks that
    /// do not depend on each other all report; a configuration that does not load stops at that.
    /// </summary>
    internal static IReadOnlyList<string> Validate(StartCommand.Options options, out IReadOnlyList<string> warnings)
    {
        warnings = [];
        var errors = new List<string>();
        Config config;
        try
        {
            config = StartCommand.LoadConfig(options);
        }
        catch (StartCommand.StartFailedException e)
        {
            return [.. e.Message.Split('\n')];
        }
        try
        {
            NodeConfig.RpcSettings.Create(config);
        }
        catch (P2PConfigurationException e)
        {
            errors.Add(e.Message);
        }
        P2PSettings p2p;
        try
        {
            p2p = P2PSettings.Create(config);
        }
        catch (P2PConfigurationException e)
        {
            errors.Add(e.Message);
            return errors;
        }
        warnings = p2p.Warnings();
        try
        {
            StartCommand.CheckReactors(options, p2p);
        }
        catch (StartCommand.StartFailedException e)
        {
            errors.Add(e.Message);
        }
        if (p2p.Pex)
        {
            try
            {
                PexReactor.Settings.From(p2p).Validate();
            }
            catch (ArgumentException e)
            {
                errors.Add($"PEX settings: {e.Message}");
            }
        }
        if (!NodeKeys.TryLoad(StartCommand.Resolve(options.Home, p2p.NodeKeyFile), out var key, out var keyError))
        {
            errors.Add(keyError);
            return errors;
        }
        using (key)
        {
            var reactors = new List<ReactorRegistration>();
            if (p2p.Pex)
                reactors.Add(new ReactorRegistration("pex", ActorRefs.Nobody, [PexReactor.Descriptor]));
            if (options.EchoChannel is { } echo)
                reactors.Add(new ReactorRegistration("echo", ActorRefs.Nobody, [EchoReactor.Channel(echo)]));
            if (options.SinkChannels.Count > 0)
                reactors.Add(new ReactorRegistration("sink", ActorRefs.Nobody, [.. options.SinkChannels.Select(SinkReactor.Channel)]));
            try
            {
                // Props checks the settings and this node's info as peers will see it; no actor starts.
                Switch.Props(key, Switch.Settings.From(p2p), reactors, new TcpTransport());
            }
            catch (ArgumentException e)
            {
                errors.Add(e.Message);
            }
        }
        return errors;
    }

    /// <summary>
    /// The <c>tendermint.*</c> sections of <paramref name="config"/> as HOCON, in the reference's order, a value that
    /// differs from the default followed by a comment giving the default. Parsed back, it holds the same values.
    /// </summary>
    internal static string Render(Config config)
    {
        var reference = NodeConfig.Defaults();
        var sb = new StringBuilder("# Effective configuration: the reference, then node.conf, the flags and --set, each over the one before.\n");
        foreach (var section in NodeConfig.Sections)
        {
            sb.Append(section).Append(" {\n");
            RenderObject(sb, config, reference, section, reference.GetValue(section).GetObject(), "  ");
            sb.Append("}\n");
        }
        return sb.ToString();
    }

    private static void RenderObject(StringBuilder sb, Config config, Config reference, string path, HoconObject known, string indent)
    {
        foreach (var (name, defaultValue) in known.Items)
        {
            var key = $"{path}.{name}";
            var value = config.GetValue(key);
            if (defaultValue.IsObject() && value.IsObject())
            {
                sb.Append(indent).Append(name).Append(" {\n");
                RenderObject(sb, config, reference, key, defaultValue.GetObject(), indent + "  ");
                sb.Append(indent).Append("}\n");
                continue;
            }
            var text = Value(value);
            var byDefault = Value(defaultValue);
            sb.Append(indent).Append(name).Append(" = ").Append(text);
            if (text != byDefault)
                sb.Append("  # default: ").Append(byDefault);
            sb.Append('\n');
        }
    }

    private static string Value(HoconValue? value)
    {
        if (value is null)
            return "null";
        if (value.IsArray())
            return "[" + string.Join(", ", value.GetArray().Select(Value)) + "]";
        if (value.IsObject())
            return "{ " + string.Join(", ", value.GetObject().Items.Select(i => $"{NodeConfig.Quote(i.Key)} = {Value(i.Value)}")) + " }";
        var s = value.GetString();
        return s is null ? "null" : Unquoted().IsMatch(s) ? s : NodeConfig.Quote(s);
    }

    /// <summary>What reads the same unquoted: whole numbers, on/off/true/false, and a number with a unit (5s, 64KiB).</summary>
    [GeneratedRegex(@"^(-?[0-9]+|on|off|true|false|[0-9]+(\.[0-9]+)?[A-Za-z]+)$")]
    private static partial Regex Unquoted();

    private static int Fail(string subcommand, TextWriter stderr, string message)
    {
        stderr.WriteLine($"tmactors config {subcommand}: {message}");
        return Cli.Failure;
    }
}
