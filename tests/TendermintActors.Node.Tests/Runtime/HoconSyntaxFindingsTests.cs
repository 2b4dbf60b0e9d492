using Akka.Configuration;
using TendermintActors.Node.Runtime;

namespace TendermintActors.Node.Tests.Runtime;

/// <summary>Inputs found by the hocon-settings fuzz target (docs/fuzzing.md) that the bracket and quote check let through to a parser that hung.</summary>
public sealed class HoconSyntaxFindingsTests
{
    // Minimised from afl's hangs: the spec ends the first string at the last three quotes of the run, Akka's parser at
    // the first three, so Akka then saw the '[' outside a string and never returned.
    [Theory]
    [InlineData("a = \"\"\"x\"\"\"\" \"[\"")]
    [InlineData("a = \"\"\"x\"\"\"\"")]
    public void A_quote_right_after_a_closing_triple_quote_is_a_fault(string hocon)
        => Refused(hocon, "right after the closing");

    // Minimised from afl's hangs (fourth run): the string's first quote is where Akka's parser and the spec part ways.
    [Theory]
    [InlineData("\"\"\"\":[*\"\"\"")]
    [InlineData("{k=\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\" \"[:\"}")]
    [InlineData("a = \"\"\"\"\"\"")]
    public void A_triple_quoted_string_that_starts_with_a_quote_is_a_fault(string hocon)
        => Refused(hocon, "starts with a quote");

    // Minimised from afl's hangs: an element of a list that starts with ':' or '=' (Akka's parser refuses one that
    // merely holds them, so the check refuses both).
    [Theory]
    [InlineData("{d=[:]}")]
    [InlineData("d=[=]")]
    [InlineData("{d=[1,:]}")]
    [InlineData("{d=[1\n:]}")]
    [InlineData("{d=[[:]]}")]
    [InlineData("tendermint.p2p {\n  addr-book-strict =[::1]:1 off\n}")]
    [InlineData("d=[a:b]")]
    public void A_colon_or_equals_sign_in_a_list_outside_a_string_is_a_fault(string hocon)
        => Refused(hocon, "in a [ ] list outside a quoted string");

    // Minimised from afl's hangs (third run): characters HOCON forbids in unquoted text, inside a list.
    [Theory]
    [InlineData("{d=[\\]}", "'\\' in a [ ] list")]
    [InlineData("d=[a*b]", "'*' in a [ ] list")]
    [InlineData("d=[@]", "'@' in a [ ] list")]
    [InlineData("d=[{a=1}, ^]", "'^' in a [ ] list")]
    [InlineData("d=[$]", "optional substitution")]
    [InlineData("x=1\nd=[${?x}]", "optional substitution")]
    [InlineData("d=[{a=${?x}}]", "optional substitution")]
    public void A_character_forbidden_in_unquoted_text_in_a_list_is_a_fault(string hocon, string problem)
        => Refused(hocon, problem);

    [Fact]
    public void Substitutions_and_quoted_special_characters_in_lists_still_parse()
    {
        const string hocon = "x = 1\nd = [${x}, \"a@b*c\\\\\", 1e+5, -2]\ne = ${?y}";
        Assert.Null(HoconSyntax.Check(hocon));
        var values = ConfigurationFactory.ParseString(hocon).GetValue("d").GetArray();
        Assert.Equal(["1", "a@b*c\\", "1e+5", "-2"], values.Select(v => v.GetString()));
    }

    [Fact]
    public void Colons_in_quoted_list_elements_and_in_objects_in_lists_still_parse()
    {
        const string hocon = "d = [\"[::1]:26656\", {a: 1, b = \"x:y\"}]\ne: [1, 2]";
        Assert.Null(HoconSyntax.Check(hocon));
        var config = ConfigurationFactory.ParseString(hocon);
        Assert.Equal("[::1]:26656", config.GetValue("d").GetArray()[0].GetString());
        Assert.Equal([1, 2], config.GetIntList("e"));
    }

    [Fact]
    public void Strings_that_end_exactly_at_three_quotes_still_parse()
    {
        const string hocon = "a = \"\"\"x \"y\" z\"\"\"\nc = [\"\"\"[\"\"\"]";
        Assert.Null(HoconSyntax.Check(hocon));
        var config = ConfigurationFactory.ParseString(hocon);
        Assert.Equal("x \"y\" z", config.GetString("a"));
        Assert.Equal("[", Assert.Single(config.GetStringList("c")));
    }

    // Minimised from afl's hangs (fourth run): Akka's parser reads a key's """ as "" and a quote, so the rest of the
    // string was outside a string for it ('[' and ':' then hung it), inside one for the check.
    [Theory]
    [InlineData("\"\"\"1\":[:\"\"\"")]
    [InlineData("a = 1\n\"\"\"1\":[:\"\"\"")]
    [InlineData("mo\"\"\"er-1\"J : x\"\"\" = 1")]
    [InlineData("a {\n  \"\"\"k\"\"\" = 1\n}")]
    [InlineData("a = [1], \"\"\"k\"\"\" = 1")]
    // Minimised from afl's hangs (tenth run): a lone carriage return ends a line for Akka's parser.
    [InlineData("a=b\r\"\"\"1\":[:\"\"\"")]
    [InlineData("a=\"\"\r\"\"\"1\":[:\"\"\"")]
    public void A_triple_quoted_string_in_a_key_is_a_fault(string hocon)
        => Refused(hocon, "string in a key");

    // Minimised from afl's hangs (fourth run): "//" in a substitution's path is no comment for Akka's parser, so the
    // quote after it opened a string there and not for the check.
    [Theory]
    [InlineData("{o=${//\"\n}\"[:\"}", "comment (# or //) inside a ${...}")]
    [InlineData("o = ${a#b}", "comment (# or //) inside a ${...}")]
    [InlineData("o = ${a\n}", "not closed on its line")]
    [InlineData("o = ${\"a}", "a quote in a ${...} substitution")]
    // Minimised from afl's hangs (ninth run).
    [InlineData("a={}${\"[:\"}", "a quote in a ${...} substitution")]
    [InlineData("o = ${a", "not closed (the text ends first)")]
    // Minimised from afl's hangs (seventh run).
    [InlineData("s=${:[}", "':' in a ${...} substitution's path")]
    [InlineData("t=${ [}", "'[' in a ${...} substitution's path")]
    [InlineData("t=${a=b}", "'=' in a ${...} substitution's path")]
    public void A_substitution_that_is_not_a_plain_path_on_its_line_is_a_fault(string hocon, string problem)
        => Refused(hocon, problem);

    [Theory]
    [InlineData("a = \"\"\"x\":[:\"\"\"", "a", "x\":[:")]
    [InlineData("a =\n  \"\"\"v\"\"\"", "a", "v")]
    [InlineData("o { k = 1 }\np = ${o.k}", "p", "1")]
    [InlineData("x = 3\nd = [${x}]\ne = { f = \"\"\"g\"\"\" }, h = ${?nothing}", "e.f", "g")]
    [InlineData("a = 1\r\nb = \"\"\"v\"\"\"\r\n", "b", "v")]
    public void Triple_quoted_values_and_plain_substitutions_still_parse(string hocon, string key, string value)
    {
        Assert.Null(HoconSyntax.Check(hocon));
        Assert.Equal(value, ConfigurationFactory.ParseString(hocon).GetString(key));
    }

    // Minimised from afl's hangs (sixth run): a list where a key is, read there by Akka's key tokenizer.
    [Theory]
    [InlineData("[\"\"\" \":${\"[$\"\"\"]")]
    [InlineData("a = 1\n[1]")]
    [InlineData("a { [x] }")]
    public void A_list_where_a_key_is_expected_is_a_fault(string hocon)
        => Refused(hocon, "'[' where a key is expected");

    // Minimised from afl's hangs (ninth run): a second '=' after a value, and an '=' with no key, each before a """
    // string that Akka's parser then read differently from the check.
    [Theory]
    [InlineData("a=\"\"=\"\"\"{\":[=\"\"\"", "'=' in a value outside a quoted string")]
    [InlineData("=\"\"\"[\"=[=\"\"\"", "'=' with no key before it")]
    [InlineData("laddr = tcp://0.0.0.0:26656", "':' in a value outside a quoted string")]
    [InlineData("a { b = 1 }\n: 2", "':' with no key before it")]
    public void A_colon_or_equals_sign_out_of_place_outside_a_list_is_a_fault(string hocon, string problem)
        => Refused(hocon, problem);

    private static void Refused(string hocon, string problem)
    {
        var fault = HoconSyntax.Check(hocon);
        Assert.NotNull(fault);
        Assert.Contains(problem, fault.Problem);
    }
}
