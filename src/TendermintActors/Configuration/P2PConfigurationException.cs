using System.Text;

namespace TendermintActors.Configuration;

/// <summary>
/// A <c>tendermint.p2p</c> setting that the node cannot start with. The message names the full key, the value
/// as written and what is allowed, e.g. <c>tendermint.p2p.pong-timeout = 60s: must be shorter than
/// tendermint.p2p.ping-interval (60s)</c>, so that an operator can fix the file without reading our code.
/// </summary>
public sealed class P2PConfigurationException : Exception
{
    public P2PConfigurationException(string key, string? value, string problem, bool quoteValue = false, Exception? innerException = null)
        : base(Format(key, value, problem, quoteValue), innerException)
    {
        Key = key;
        Value = value;
        Problem = problem;
    }

    /// <summary>The full HOCON path, e.g. <c>tendermint.p2p.max-num-inbound-peers</c>.</summary>
    public string Key { get; }

    /// <summary>The value as written (a string's content without quotes); null when the key is missing.</summary>
    public string? Value { get; }

    /// <summary>What is wrong, or what is allowed.</summary>
    public string Problem { get; }

    private static string Format(string key, string? value, string problem, bool quoteValue) =>
        value is null ? $"{key} is missing: {problem}"
        : $"{key} = {(quoteValue ? Quote(value) : value)}: {problem}";

    // Quoted as HOCON would write it, with control characters escaped so the message stays on one line.
    private static string Quote(string value)
    {
        var sb = new StringBuilder(value.Length + 2).Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case < ' ' or (>= '\u007f' and <= '\u009f'): sb.Append($"\\u{(int)c:x4}"); break;
                default: sb.Append(c); break;
            }
        }
        return sb.Append('"').ToString();
    }
}
