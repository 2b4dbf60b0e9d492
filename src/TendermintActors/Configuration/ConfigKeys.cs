using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace TendermintActors.Configuration;

/// <summary>A key that the reference configuration does not have, with what to write instead when we can tell.</summary>
/// <param name="Key">The full HOCON path as written, e.g. <c>tendermint.p2p.max-num-inbound-peer</c>.</param>
/// <param name="Suggestion">The known key meant, relative to <paramref name="Section"/>; null when none is close.</param>
/// <param name="Section">The section the key sits in, e.g. <c>tendermint.p2p</c>.</param>
/// <param name="CometSpelling">The key is CometBFT's underscore spelling of <paramref name="Suggestion"/>.</param>
public sealed record UnknownConfigKey(string Key, string? Suggestion, string Section, bool CometSpelling)
{
    /// <summary>What is wrong and what to write, e.g. <c>unknown key; did you mean `max-num-inbound-peers`?</c>.</summary>
    public string Problem =>
        CometSpelling ? $"unknown key: this is CometBFT's spelling; write `{Suggestion}`"
        : Suggestion is not null ? $"unknown key; did you mean `{Suggestion}`?"
        : $"unknown key (every key of {Section} is listed, with its default, in the reference configuration)";
}

/// <summary>
/// Finds keys that a configuration has and the reference configuration (hocon/reference.conf) does not: a misspelt
/// key would otherwise be ignored in silence and its setting keep the default. Keys are compared as written, so
/// CometBFT's <c>max_num_inbound_peers</c> is unknown too, and named as such: one spelling per setting keeps
/// <c>config show</c> and the documentation unambiguous.
/// </summary>
internal static class ConfigKeys
{
    /// <summary>
    /// Every key under <paramref name="section"/> of <paramref name="config"/> that is not under the same section of
    /// <paramref name="reference"/>, nested objects included, in the order the configuration holds them. A key the
    /// reference has as a plain value is not looked into (the settings reader refuses an object there).
    /// </summary>
    public static IReadOnlyList<UnknownConfigKey> Unknown(Config config, Config reference, string section)
    {
        var found = new List<UnknownConfigKey>();
        var known = ObjectAt(reference, section);
        var actual = ObjectAt(config, section);
        if (known is null || actual is null)
            return found;
        var candidates = new List<string>();
        Leaves(known, "", candidates);
        Walk(actual, known, section, "", candidates, found);
        return found;
    }

    private static void Walk(HoconObject actual, HoconObject known, string section, string prefix, List<string> candidates, List<UnknownConfigKey> found)
    {
        foreach (var (name, value) in actual.Items)
        {
            var relative = prefix + name;
            if (!known.Items.TryGetValue(name, out var reference))
            {
                var (suggestion, comet) = Suggest(relative, value.IsObject(), known, prefix, candidates);
                found.Add(new UnknownConfigKey($"{section}.{relative}", suggestion, section, comet));
            }
            else if (reference.IsObject() && value.IsObject())
            {
                Walk(value.GetObject(), reference.GetObject(), section, relative + ".", candidates, found);
            }
        }
    }

    /// <summary>
    /// The known key closest to <paramref name="relative"/>: first CometBFT's underscore spelling of a key at the same
    /// level, then the nearest key (by edit distance, case and <c>_</c>/<c>-</c> ignored) within a cutoff that grows
    /// with the key's length. Whole paths are compared, so <c>per-peer-labels</c> written at the top suggests
    /// <c>metrics.per-peer-labels</c>.
    /// </summary>
    private static (string? Suggestion, bool Comet) Suggest(string relative, bool isObject, HoconObject siblings, string prefix, List<string> candidates)
    {
        var name = relative[prefix.Length..];
        var dashed = name.Replace('_', '-');
        if (dashed != name && siblings.Items.ContainsKey(dashed))
            return (prefix + dashed, true);

        // An object written where the reference has one (a misspelt "metrics {") is matched against the objects.
        var pool = isObject ? Objects(candidates) : candidates;
        string? best = null;
        var bestDistance = int.MaxValue;
        var wanted = Normalise(relative);
        var wantedLast = Normalise(name);
        foreach (var candidate in pool)
        {
            var last = candidate[(candidate.LastIndexOf('.') + 1)..];
            var distance = Math.Min(Distance(wanted, Normalise(candidate)), Distance(wantedLast, Normalise(last)));
            if (distance < bestDistance)
                (best, bestDistance) = (candidate, distance);
        }
        return bestDistance <= Cutoff(name.Length) ? (best, false) : (null, false);
    }

    /// <summary>Edits allowed for a suggestion: one for short keys, up to three for long ones (a third of the length).</summary>
    internal static int Cutoff(int length) => Math.Clamp(length / 3, 1, 3);

    private static string Normalise(string key) => key.Replace('_', '-').ToLowerInvariant();

    /// <summary>Every path of the reference under a section: its plain keys and, separately, its objects.</summary>
    private static void Leaves(HoconObject known, string prefix, List<string> into)
    {
        foreach (var (name, value) in known.Items)
        {
            into.Add(prefix + name);
            if (value.IsObject())
                Leaves(value.GetObject(), prefix + name + ".", into);
        }
    }

    private static List<string> Objects(List<string> paths) =>
        paths.Where(p => paths.Any(q => q.StartsWith(p + ".", StringComparison.Ordinal))).ToList();

    private static HoconObject? ObjectAt(Config config, string path)
    {
        if (!config.HasPath(path))
            return null;
        var value = config.GetValue(path);
        return value is not null && value.IsObject() ? value.GetObject() : null;
    }

    /// <summary>
    /// Damerau-Levenshtein distance (optimal string alignment): insertions, deletions, substitutions and swaps of
    /// two neighbours each count one, so <c>max-num-inbuond-peers</c> is one edit from the key meant.
    /// </summary>
    internal static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++) d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        }
        return d[a.Length, b.Length];
    }
}
