using Akka.Configuration;
using TendermintActors.Node.Runtime;

namespace TendermintActors.Node.Tests.Runtime;

/// <summary>
/// The parse deadline that covers what the bracket and quote check cannot foresee: Akka's parser looping on text
/// fuzzing has not found yet. A stub parser stands in for the loop (one that blocks, so no core is burnt).
/// </summary>
public sealed class HoconParseDeadlineTests
{
    [Fact]
    public void A_parse_that_does_not_finish_is_refused_at_the_deadline_with_a_configuration_error()
    {
        using var never = new ManualResetEventSlim();
        try
        {
            var error = Assert.Throws<ConfigurationException>(() =>
                HoconSyntax.Parse("a = 1", _ => { never.Wait(); return Config.Empty; }, TimeSpan.FromMilliseconds(50)));
            Assert.Contains("did not finish within 0.05 s", error.Message);
        }
        finally
        {
            never.Set(); // lets the abandoned parse thread end
        }
    }

    [Fact]
    public void A_parse_error_passes_through_as_it_is()
    {
        var thrown = new ConfigurationException("bad token");
        var error = Assert.Throws<ConfigurationException>(() => HoconSyntax.Parse("a = 1", _ => throw thrown, TimeSpan.FromSeconds(30)));
        Assert.Same(thrown, error);
    }

    [Fact]
    public void A_finished_parse_gives_Akkas_config()
    {
        var config = HoconSyntax.Parse("tendermint.p2p { laddr = \"tcp://0.0.0.0:26656\", pex = on }");
        Assert.Equal("tcp://0.0.0.0:26656", config.GetString("tendermint.p2p.laddr"));
        Assert.True(config.GetBoolean("tendermint.p2p.pex"));
    }

    // Found by the hocon-settings fuzz target (docs/fuzzing.md): an include, even an empty one, made Akka's parser throw
    // a NullReferenceException.
    [Theory]
    [InlineData("{include \"\"}", "'include \"\"'")]
    [InlineData("include \"common.conf\"\na = 1", "'include \"common.conf\"'")]
    public void An_include_is_refused_with_a_configuration_error(string hocon, string named)
    {
        var error = Assert.Throws<ConfigurationException>(() => HoconSyntax.Parse(hocon));
        Assert.Contains($"{named}: a node's configuration cannot include other files", error.Message);
    }

    [Fact]
    public void Any_other_exception_of_the_parser_becomes_a_configuration_error_that_names_it()
    {
        var error = Assert.Throws<ConfigurationException>(() => HoconSyntax.Parse("a = 1", _ => HoconSyntax.ParseUnbounded(null!), TimeSpan.FromSeconds(30)));
        Assert.Contains("Akka's HOCON parser failed on the text (NullReferenceException", error.Message);
    }

    // Found by the hocon-settings fuzz target (eighth run; docs/fuzzing.md): reading a value that a substitution leads
    // back into overflowed the stack, which ends the process.
    [Theory]
    [InlineData("a=${a}\ntendermint=${}", "a")]
    [InlineData("a = ${b}\nb = ${a}\nc = ${a}", "a")]
    [InlineData("o { p = ${o} }", "o")]
    [InlineData("l = [1, ${l}]", "l")]
    public void A_substitution_that_leads_back_to_itself_is_refused(string hocon, string path)
    {
        var error = Assert.Throws<ConfigurationException>(() => HoconSyntax.Parse(hocon));
        Assert.Contains("refers to itself", error.Message);
        Assert.Contains("${" + path, error.Message);
    }

    [Fact]
    public void Substitutions_that_share_a_value_without_a_cycle_still_parse()
    {
        var config = HoconSyntax.Parse("base { port = 1 }\na = ${base}\nb = ${base}\nc = [${base.port}, ${base.port}]");
        Assert.Equal(1, config.GetInt("a.port"));
        Assert.Equal(1, config.GetInt("b.port"));
        Assert.Equal([1, 1], config.GetIntList("c"));
    }

    [Fact]
    public void Nesting_is_bounded_before_the_parser_recurses_into_it()
    {
        string Nested(int depth) => "a = " + string.Concat(Enumerable.Repeat("{ b = ", depth - 1)) + "{ c = 1 }" + new string('}', depth - 1);

        Assert.Null(HoconSyntax.Check(Nested(HoconSyntax.MaxNesting)));
        Assert.Equal(1, HoconSyntax.Parse(Nested(HoconSyntax.MaxNesting)).GetInt("a" + string.Concat(Enumerable.Repeat(".b", HoconSyntax.MaxNesting - 1)) + ".c"));
        var fault = HoconSyntax.Check(Nested(HoconSyntax.MaxNesting + 1));
        Assert.NotNull(fault);
        Assert.Contains($"nests deeper than {HoconSyntax.MaxNesting} levels", fault.Problem);
        Assert.NotNull(HoconSyntax.Check("d = " + new string('[', 100_000) + new string(']', 100_000)));
    }

    [Fact]
    public async Task Values_shared_by_many_substitutions_are_checked_once_each()
    {
        // Each level refers to the one before twice: 2^40 paths to v0, 41 values.
        var hocon = "v0 = { x = 1 }\n" + string.Concat(Enumerable.Range(1, 40).Select(i => $"v{i} = [${{v{i - 1}}}, ${{v{i - 1}}}]\n"));
        var config = await Task.Run(() => HoconSyntax.Parse(hocon)).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(2, config.GetValue("v40").GetArray().Count);
    }
}
