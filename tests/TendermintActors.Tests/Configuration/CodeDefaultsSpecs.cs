using System.Collections;
using System.Reflection;
using TendermintActors.Configuration;
using TendermintActors.Streams;
using TendermintActors.Switching;

namespace TendermintActors.Tests.Configuration;

/// <summary>
/// Defaults live in hocon/reference.conf. The settings records that code can also build with <c>new()</c> (for tests
/// and embedders) carry initial values, and each one must be the reference's: this spec ties every property of
/// <see cref="Switch.Settings"/> and <see cref="MConnectionSettings"/> to the settings read from the file.
/// </summary>
public sealed class CodeDefaultsSpecs
{
    public static TheoryData<string> SwitchProperties() => Names(typeof(Switch.Settings));

    public static TheoryData<string> ConnectionProperties() => Names(typeof(MConnectionSettings));

    private static TheoryData<string> Names(Type type)
    {
        var data = new TheoryData<string>();
        foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanRead))
            data.Add(p.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(SwitchProperties))]
    public void A_switch_default_in_code_is_the_reference_files(string property)
    {
        var p = typeof(Switch.Settings).GetProperty(property)!;
        if (p.PropertyType == typeof(MConnectionSettings)) return; // compared property by property below
        AssertSame(p.GetValue(Switch.Settings.From(P2PSettings.Default)), p.GetValue(new Switch.Settings()), "Switch.Settings." + property);
    }

    [Theory]
    [MemberData(nameof(ConnectionProperties))]
    public void A_connection_default_in_code_is_the_reference_files(string property)
    {
        var p = typeof(MConnectionSettings).GetProperty(property)!;
        AssertSame(p.GetValue(Switch.Settings.From(P2PSettings.Default).Connection), p.GetValue(new MConnectionSettings()),
            "MConnectionSettings." + property);
    }

    private static void AssertSame(object? fromFile, object? inCode, string what)
    {
        if (fromFile is IEnumerable a && inCode is IEnumerable b && fromFile is not string)
        {
            Assert.True(a.Cast<object>().Order().SequenceEqual(b.Cast<object>().Order()),
                $"{what}: the code's default differs from hocon/reference.conf's");
            return;
        }
        Assert.True(Equals(fromFile, inCode), $"{what}: hocon/reference.conf gives {fromFile ?? "null"}, the code {inCode ?? "null"}");
    }
}
