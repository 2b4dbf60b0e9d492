using Akka.Event;
using TendermintActors.Node.Runtime;

namespace TendermintActors.Node.Tests.Logging;

public sealed class LogLevelsTests
{
    [Fact]
    public void A_bare_level_applies_to_every_module()
    {
        var levels = LogLevels.Parse("debug");
        foreach (var module in LogLevels.Modules)
            Assert.Equal(LogLevel.DebugLevel, levels.For(module));
        Assert.Equal("DEBUG", levels.AkkaLogLevel);
    }

    [Fact]
    public void Module_pairs_set_their_modules_and_the_star_sets_the_rest()
    {
        var levels = LogLevels.Parse("p2p:debug, pex:info,*:error");
        Assert.Equal(LogLevel.DebugLevel, levels.For("p2p"));
        Assert.Equal(LogLevel.InfoLevel, levels.For("pex"));
        Assert.Equal(LogLevel.ErrorLevel, levels.For("addrbook"));
        Assert.Equal(LogLevel.ErrorLevel, levels.For("main"));
        Assert.True(levels.IsEnabled("p2p", LogLevel.DebugLevel));
        Assert.False(levels.IsEnabled("pex", LogLevel.DebugLevel));
        Assert.False(levels.IsEnabled("akka", LogLevel.WarningLevel));
        Assert.True(levels.IsEnabled("akka", LogLevel.ErrorLevel));
        // Akka must build the events of the chattiest module.
        Assert.Equal("DEBUG", levels.AkkaLogLevel);
    }

    [Fact]
    public void Without_a_star_the_rest_log_at_info_as_in_CometBFT()
    {
        var levels = LogLevels.Parse("p2p:error");
        Assert.Equal(LogLevel.ErrorLevel, levels.For("p2p"));
        Assert.Equal(LogLevel.InfoLevel, levels.For("pex"));
    }

    [Fact]
    public void None_turns_a_module_or_everything_off()
    {
        Assert.Null(LogLevels.Parse("none").Lowest);
        Assert.Equal("OFF", LogLevels.Parse("none").AkkaLogLevel);
        var levels = LogLevels.Parse("*:none,p2p:warn");
        Assert.False(levels.IsEnabled("pex", LogLevel.ErrorLevel));
        Assert.True(levels.IsEnabled("p2p", LogLevel.WarningLevel));
        Assert.Equal("WARNING", levels.AkkaLogLevel);
    }

    [Fact]
    public void Errors_only_raises_every_module_to_error_and_leaves_none_alone()
    {
        var levels = LogLevels.Parse("p2p:debug,pex:none,*:info").AtLeast(LogLevel.ErrorLevel);
        Assert.Equal(LogLevel.ErrorLevel, levels.For("p2p"));
        Assert.Null(levels.For("pex"));
        Assert.Equal(LogLevel.ErrorLevel, levels.For("main"));
    }

    [Theory]
    [InlineData("verbose", "'verbose' is not a level")]
    [InlineData("p2p:verbose", "'verbose' in 'p2p:verbose' is not a level")]
    [InlineData("p2p:debug,consensus:info", "'consensus' is not a module")]
    [InlineData("p2p:debug,p2p:info", "module 'p2p' is given twice")]
    [InlineData("p2p:debug,pex", "'pex' is not a module:level pair")]
    [InlineData("p2p:debug,,*:error", "'' is not a module:level pair")]
    [InlineData(":info", "':info' is not a module:level pair")]
    [InlineData("", "'' is not a level")]
    public void A_bad_value_fails_naming_the_flag_and_the_bad_part(string text, string problem)
    {
        Assert.False(LogLevels.TryParse(text, out _, out var error));
        Assert.StartsWith($"--log_level '{text}': ", error);
        Assert.Contains(problem, error);
    }

    [Fact]
    public void Log_format_is_plain_or_json_and_anything_else_names_the_flag()
    {
        Assert.True(LogFormats.TryParse("JSON", out var json, out _));
        Assert.Equal(LogFormat.Json, json);
        Assert.True(LogFormats.TryParse("plain", out var plain, out _));
        Assert.Equal(LogFormat.Plain, plain);
        Assert.False(LogFormats.TryParse("logfmt", out _, out var error));
        Assert.Equal("--log_format 'logfmt' is not a log format (plain or json)", error);
    }
}
