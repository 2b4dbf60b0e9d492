using Akka.Configuration;
using TendermintActors.Node.Runtime;

namespace TendermintActors.Node.Tests.Runtime;

/// <summary>Inputs found by the hocon-settings fuzz target (docs/fuzzing.md) that the bracket and quote check let through to a parser that hung.</summary>
public sealed class HoconSyntaxFindingsTests
{
    // Minimised from afl's hangs: the spec ends the first string at the last three quotes of the run, Akka's parser at
    // the first three, so Akka then saw the '[' outside a string and never returned.
    [Theory]
    [InlineData("{k=\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\" \"[:\"}")]
    [InlineData("a = \"\"\"x\"\"\"\" \"[\"")]
    [InlineData("a = \"\"\"x\"\"\"\"")]
    public void A_quote_right_after_a_closing_triple_quote_is_a_fault(string hocon)
    {
        var fault = HoconSyntax.Check(hocon);
        Assert.NotNull(fault);
        Assert.Contains("right after the closing", fault.Problem);
    }

    [Fact]
    public void Strings_that_end_exactly_at_three_quotes_still_parse()
    {
        const string hocon = "a = \"\"\"x \"y\" z\"\"\"\nb = \"\"\"\"\"\"\nc = [\"\"\"[\"\"\"]";
        Assert.Null(HoconSyntax.Check(hocon));
        var config = ConfigurationFactory.ParseString(hocon);
        Assert.Equal("x \"y\" z", config.GetString("a"));
        Assert.Equal("[", Assert.Single(config.GetStringList("c")));
    }
}
