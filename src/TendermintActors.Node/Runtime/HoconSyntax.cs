using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace TendermintActors.Node.Runtime;

/// <summary>
/// A check of HOCON's brackets and quotes, with the line of the fault, run before Akka's parser sees the text. That
/// parser takes a missing or extra <c>}</c> in silence (dropping or keeping keys at random), names no position when it
/// fails, and never returns from an unclosed <c>[</c>: this scan is what turns each of those into
/// "line N: ..." for the operator.
/// </summary>
internal static class HoconSyntax
{
    /// <summary>A fault: its 1-based line and what is wrong there.</summary>
    internal sealed record Fault(int Line, string Problem);

    /// <summary>How deep objects and lists may nest (a node's configuration uses four or five levels).</summary>
    internal const int MaxNesting = 64;

    /// <summary>The first bracket or quote fault in <paramref name="text"/>, or null when they are all balanced.</summary>
    public static Fault? Check(string text)
    {
        var open = new Stack<(char Bracket, int Line)>();
        var line = 1;
        var i = 0;
        // Whether a field's key may be here (at the start of the text or of an object, or after a field ended), and
        // whether a ':' or '=' has been read with no value after it yet: Akka's parser reads keys with a tokenizer of
        // their own, which knows no """ strings.
        var inKey = true;
        var keyStarted = false;
        var valuePending = false;
        while (i < text.Length)
        {
            var c = text[i];
            var inList = open.Count > 0 && open.Peek().Bracket == '[';
            var blank = c is ' ' or '\t' or '\r' or '\n' or '#' || (c == '/' && i + 1 < text.Length && text[i + 1] == '/');
            if (c is ':' or '=' && !inList)
            {
                // Akka's parser refuses a value holding an unquoted ':' or '=', and does not return from some of them
                // (a second '=' before a """ string); nor from a ':' or '=' with no key before it.
                if (!inKey)
                    return new Fault(line, $"'{c}' in a value outside a quoted string (quote the value, e.g. \"tcp://0.0.0.0:26656\")");
                if (!keyStarted)
                    return new Fault(line, $"'{c}' with no key before it");
                inKey = false;
                valuePending = true;
                i++;
                continue;
            }
            if (inKey && !inList && !blank && c is not (',' or '{' or '}'))
                keyStarted = true;
            if (valuePending && !blank)
                valuePending = false;
            switch (c)
            {
                case '\n':
                case '\r': // a line break for Akka's parser too, alone as well as before '\n'
                case ',':
                    if (c == '\n') line++;
                    if (!inList && !valuePending) (inKey, keyStarted) = (true, false);
                    i++;
                    break;
                case '$' when i + 1 < text.Length && text[i + 1] == '{' && !(i + 2 < text.Length && text[i + 2] == '?' && open.Any(o => o.Bracket == '[')):
                {
                    // A substitution's path is not HOCON text: no comment starts in it (Akka's parser reads a quote
                    // after "${//" as the start of a string where a scan for comments would skip the line), and it
                    // ends on its line.
                    i += 2;
                    if (i < text.Length && text[i] == '?') i++;
                    while (i < text.Length && text[i] != '}')
                    {
                        if (text[i] is '[' or ']' or '{' or ':' or '=' or ',' or '+' or '$' or '^' or '?' or '!' or '@' or '*' or '&' or '\\' or '`')
                            return new Fault(line, $"'{text[i]}' in a ${{...}} substitution's path (a path is names joined by dots, e.g. ${{tendermint.p2p.laddr}})");
                        if (text[i] == '\n')
                            return new Fault(line, "a ${...} substitution is not closed on its line");
                        if (text[i] == '#' || (text[i] == '/' && i + 1 < text.Length && text[i + 1] == '/'))
                            return new Fault(line, "a comment (# or //) inside a ${...} substitution: write the path alone, e.g. ${tendermint.p2p.laddr}");
                        if (text[i] == '"')
                            return new Fault(line, "a quote in a ${...} substitution (Akka's parser does not read quoted path parts): write the path unquoted, e.g. ${tendermint.p2p.laddr}");
                        i++;
                    }
                    if (i >= text.Length)
                        return new Fault(line, "a ${...} substitution is not closed (the text ends first)");
                    i++;
                    break;
                }
                case '#':
                case '/' when i + 1 < text.Length && text[i + 1] == '/':
                    while (i < text.Length && text[i] != '\n') i++;
                    break;
                case '"' when string.CompareOrdinal(text, i, "\"\"\"", 0, 3) == 0:
                {
                    // A triple-quoted string may span lines and holds no escapes; it ends at the first """. One that
                    // starts with a quote ("""") is where Akka's parser and the spec part ways, as at the end below.
                    if (i + 3 < text.Length && text[i + 3] == '"')
                        return new Fault(line, "a \"\"\" string that starts with a quote (Akka's parser reads it differently from the HOCON spec): use a \"...\" string with \\\"");
                    if (inKey && !inList)
                        return new Fault(line, "a \"\"\" string in a key (Akka's parser reads it there as \"\" and a quote): write the key as a \"...\" string");
                    var end = text.IndexOf("\"\"\"", i + 3, StringComparison.Ordinal);
                    if (end < 0)
                        return new Fault(line, "the \"\"\" string that starts here is never closed");
                    line += Count(text, i, end, '\n');
                    i = end + 3;
                    // The HOCON spec ends """a"""" with the last three quotes; Akka's parser ends it at the first three
                    // and reads what follows as a new string, so the two disagree on where strings (and so brackets)
                    // are. Refused rather than guessed: such a string can hang the parser.
                    if (i < text.Length && text[i] == '"')
                        return new Fault(line, "a quote right after the closing \"\"\" of a string (Akka's parser reads it as the start of another string): put it inside the string, or use a \"...\" string with \\\"");
                    break;
                }
                case '"':
                {
                    i++;
                    while (i < text.Length && text[i] != '"' && text[i] != '\n')
                        i += text[i] == '\\' ? 2 : 1;
                    if (i >= text.Length || text[i] == '\n')
                        return new Fault(line, "a quoted string is not closed on its line (add the closing \"; use \"\"\" for text over several lines)");
                    i++;
                    break;
                }
                case ':' or '=' when open.Count > 0 && open.Peek().Bracket == '[':
                    // Akka's parser refuses unquoted text holding ':' or '=' in a list, and never returns when an
                    // element starts with one: no list it accepts has one outside a string or an object.
                    return new Fault(line, $"'{c}' in a [ ] list outside a quoted string (quote the element, e.g. \"[::1]:26656\")");
                case '$' or '!' or '&' or '?' or '^' or '@' or '*' or '`' or '\\' when open.Any(o => o.Bracket == '['):
                    // In a list, Akka's parser never returns from unquoted text holding one of these (elsewhere it
                    // fails with "Unknown token"), nor from an optional substitution ${?...}; ${...} is fine.
                    if (c == '$' && i + 2 < text.Length && text[i + 1] == '{' && text[i + 2] != '?')
                    {
                        i++;
                        break;
                    }
                    return new Fault(line, c == '$' || (c == '?' && i > 1 && text[i - 1] == '{' && text[i - 2] == '$')
                        ? "an optional substitution ${?...} in a [ ] list (Akka's parser does not return from one)"
                        : $"'{c}' in a [ ] list outside a quoted string (quote the element)");
                case '[' when inKey && !inList:
                    // A list is a field's value; where a key is, Akka's key tokenizer reads what follows ("""
                    // strings included) differently from the rest of its parser.
                    return new Fault(line, "'[' where a key is expected (a list is a field's value: key = [ ... ])");
                case '{' or '[' when open.Count == MaxNesting:
                    // Akka's parser recurses for each level; far deeper text would overflow its stack and end the process.
                    return new Fault(line, $"'{c}' nests deeper than {MaxNesting} levels");
                case '{' or '[':
                    open.Push((c, line));
                    (inKey, keyStarted) = (c == '{', false);
                    i++;
                    break;
                case '}' or ']':
                {
                    var expected = c == '}' ? '{' : '[';
                    if (open.Count == 0)
                        return new Fault(line, $"'{c}' closes nothing (remove it, or add the '{expected}' it was meant to close)");
                    var (bracket, at) = open.Pop();
                    if (bracket != expected)
                        return new Fault(at, $"'{bracket}' is not closed: the next closing bracket is '{c}' on line {line}");
                    inKey = false;
                    i++;
                    break;
                }
                default:
                    i++;
                    break;
            }
        }
        if (open.Count > 0)
        {
            var (bracket, at) = open.Pop();
            return new Fault(at, $"'{bracket}' is never closed (the file ends first)");
        }
        return null;
    }

    /// <summary>How long Akka's parser may take before the text is refused (a node.conf parses in milliseconds).</summary>
    internal static readonly TimeSpan ParseDeadline = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Akka's parser, under a deadline. <see cref="Check"/> catches the constructs known to make that parser loop for
    /// ever (docs/fuzzing.md lists what fuzzing found), but it only approximates the parser's tokenizer; for anything
    /// it misses, the parse runs on a background thread and the text is refused with a
    /// <see cref="ConfigurationException"/> once <paramref name="deadline"/> passes, instead of the node never starting.
    /// The looping thread is abandoned (it cannot be stopped) and does not keep the process alive.
    /// </summary>
    public static Config Parse(string text, TimeSpan? deadline = null) =>
        Parse(text, ParseUnbounded, deadline ?? ParseDeadline);

    /// <summary>
    /// Akka's parser without the deadline, its failures all <see cref="ConfigurationException"/>s: it refuses an
    /// <c>include</c> (a node's settings live in one file and its <c>--set</c>s), which Akka's parser, given no way to
    /// read one, answers with a <see cref="NullReferenceException"/>, and it names any other exception the parser
    /// throws instead of letting it out as a crash.
    /// </summary>
    internal static Config ParseUnbounded(string text)
    {
        try
        {
            var config = ConfigurationFactory.ParseString(text, name => throw new ConfigurationException(
                $"'include \"{name}\"': a node's configuration cannot include other files; put the settings in this file or pass them with --set"));
            RefuseCycles(config.Root, new HashSet<HoconValue>(ReferenceEqualityComparer.Instance), new HashSet<HoconValue>(ReferenceEqualityComparer.Instance), null);
            return config;
        }
        catch (Exception e) when (e is not (ConfigurationException or FormatException or ArgumentException))
        {
            throw new ConfigurationException($"Akka's HOCON parser failed on the text ({e.GetType().Name}: {e.Message}); check unusual quoting, \"\"\" strings and ${{...}} substitutions", e);
        }
    }

    internal static Config Parse(string text, Func<string, Config> parse, TimeSpan deadline)
    {
        var result = new TaskCompletionSource<Config>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                result.TrySetResult(parse(text));
            }
            catch (Exception e)
            {
                result.TrySetException(e);
            }
        }, maxStackSize: 16 * 1024 * 1024) { IsBackground = true, Name = "hocon-parse" };
        thread.Start();
        if (Task.WaitAny([result.Task], deadline) < 0)
            throw new ConfigurationException(
                $"Akka's HOCON parser did not finish within {deadline.TotalSeconds:0.###} s: the text holds a construct it loops on (check unusual quoting, \"\"\" strings and ${{...}} substitutions)");
        return result.Task.GetAwaiter().GetResult();
    }

    /// <summary>
    /// Refuses a substitution that leads back to a value it is part of (<c>a = ${a}</c>, <c>a = ${b}, b = ${a}</c>):
    /// Akka's parser links it without a check, and the first read of such a value recurses until the process dies of a
    /// stack overflow, which no handler can catch. The walk follows each substitution to the value it resolved to, and
    /// visits each value once (<paramref name="cleared"/>): values that many substitutions share would otherwise be
    /// walked once per path to them, exponentially many for a few lines of text.
    /// </summary>
    private static void RefuseCycles(HoconValue? value, HashSet<HoconValue> path, HashSet<HoconValue> cleared, string? through)
    {
        if (value is null || cleared.Contains(value))
            return;
        if (!path.Add(value))
            throw new ConfigurationException($"the substitution ${{{through}}} refers to itself, directly or through other substitutions");
        foreach (var element in value.Values)
        {
            switch (element)
            {
                case HoconSubstitution substitution:
                    RefuseCycles(substitution.ResolvedValue, path, cleared, substitution.Path);
                    break;
                case HoconObject obj:
                    foreach (var item in obj.Items.Values) RefuseCycles(item, path, cleared, through);
                    break;
                case HoconArray array:
                    foreach (var item in array) RefuseCycles(item, path, cleared, through);
                    break;
            }
        }
        path.Remove(value);
        cleared.Add(value);
    }

    private static int Count(string text, int from, int to, char c)
    {
        var n = 0;
        for (var i = from; i < to; i++)
            if (text[i] == c) n++;
        return n;
    }
}
