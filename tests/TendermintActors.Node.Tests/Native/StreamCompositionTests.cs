using Akka;
using Akka.Streams;
using Akka.Streams.Dsl;
using Mono.Cecil;
using Mono.Cecil.Cil;
using TendermintActors.Streams;

namespace TendermintActors.Node.Tests.Native;

/// <summary>
/// The node hands Akka no closure as a stream composition's materialised-value combiner. Akka asks the combiner for its
/// method (<c>Keep.IsLeft</c>); natively compiled, a closure's method is found only through an index of every
/// reflectable method, which the runtime builds at that first question (~4 MB of the program's tables read, a ~1 MB
/// array kept: docs/performance.md, "One stream composition that cost 4 MiB"). No run of the JIT-compiled node can
/// see that, so this reads the IL of the node's assemblies: every call to a composition whose last argument is a
/// combiner must pass one of Akka's <c>Keep</c> methods when it makes the delegate there, and the compositions that make
/// closures of their own whatever they are given are not called at all.
/// </summary>
public sealed class StreamCompositionTests
{
    [Fact]
    public void No_stream_composition_of_the_node_is_given_a_closure()
    {
        var findings = new[] { typeof(BidiFlowExtensions).Assembly.Location, typeof(Cli).Assembly.Location }
            .SelectMany(path => CompositionCheck.Find(path, Excluded))
            .ToList();

        Assert.True(findings.Count == 0, "compositions that hand Akka a closure:\n" + string.Join("\n", findings));
    }

    [Fact]
    public void The_check_sees_closures_and_lets_keep_through()
    {
        // Cecil names a nested type Outer/Inner.
        var fixture = typeof(Fixture).FullName!.Replace('+', '/');
        var findings = CompositionCheck.Find(typeof(StreamCompositionTests).Assembly.Location,
            type => type.FullName != fixture && type.DeclaringType?.FullName != fixture);

        Assert.Equal(
            new[]
            {
                $"{fixture}::{nameof(Fixture.CapturingCombiner)}: FromFlows makes closures of its own",
                $"{fixture}::{nameof(Fixture.CapturingCombiner)}: JoinUnderMat is given a closure",
                $"{fixture}::{nameof(Fixture.LambdaCombiner)}: ViaMaterialized is given a closure",
                $"{fixture}::{nameof(Fixture.SinkAndSource)}: FromSinkAndSource makes closures of its own",
                $"{fixture}::{nameof(Fixture.TwoGraphs)}: GraphDsl.Create with 2 graphs makes closures of its own",
            }.Order(StringComparer.Ordinal),
            findings.Order(StringComparer.Ordinal));
    }

    /// <summary>Not part of a running node: the benchmarks' client side (their target is the node itself).</summary>
    private static bool Excluded(TypeDefinition type)
    {
        for (var t = type; t is not null; t = t.DeclaringType)
        {
            if (t.Namespace == "TendermintActors.Node.Bench")
                return true;
        }
        return false;
    }

    /// <summary>What the check must report (all but <see cref="KeepCombiners"/>), read from this assembly's IL.</summary>
    private static class Fixture
    {
        public static object LambdaCombiner() =>
            Flow.Create<int>().ViaMaterialized(Flow.Create<int>(), (a, _) => a);

        public static object CapturingCombiner(string name) =>
            BidiFlow.FromFlows(Flow.Create<int>(), Flow.Create<int>()).JoinUnderMat(Flow.Create<int>(), (_, _) => name);

        public static object SinkAndSource() =>
            Flow.FromSinkAndSource(Sink.Ignore<int>(), Source.Empty<int>(), Keep.Both);

        public static object TwoGraphs() =>
            GraphDsl.Create(Source.Empty<int>(), Sink.Ignore<int>(), Keep.Left, (builder, source, sink) =>
            {
                builder.From(source).To(sink);
                return ClosedShape.Instance;
            });

        public static object KeepCombiners() =>
            Flow.Create<int>().ViaMaterialized(Flow.Create<int>(), Keep.Right)
                .WatchTermination(Keep.Both)
                .MapMaterializedValue(ends => ends.Item2)
                .ToMaterialized(Sink.Ignore<int>(), Keep.Left);
    }
}

/// <summary>
/// Finds, in an assembly's IL, the stream compositions that hand Akka a closure (<see cref="StreamCompositionTests"/>).
/// </summary>
internal static class CompositionCheck
{
    // Akka's compositions whose last argument is the materialised-value combiner it asks for its method (and ours,
    // which passes it on).
    private static readonly HashSet<string> CombinerLast =
    [
        "ViaMaterialized", "ToMaterialized", "JoinMaterialized", "WatchTermination", "AtopMaterialized",
        "ConcatMaterialized", "PrependMaterialized", "MergeMaterialized", "ZipMaterialized", "AlsoToMaterialized",
        "WireTapMaterialized", "OrElseMaterialized", "DivertToMaterialized", "InterleaveMaterialized",
        "JoinUnderMat",
    ];

    // Akka's compositions that make closures of their own, whatever they are given.
    private static readonly HashSet<string> ClosuresOfTheirOwn =
        ["FromSinkAndSource", "FromSinkAndSourceCoupled", "FromFlows", "FromFlowsMat"];

    public static IEnumerable<string> Find(string assemblyPath, Func<TypeDefinition, bool> excluded)
    {
        using var assembly = AssemblyDefinition.ReadAssembly(assemblyPath);
        var findings = new List<string>();
        foreach (var type in assembly.MainModule.GetTypes().Where(t => !excluded(t)))
        {
            foreach (var method in type.Methods.Where(m => m.HasBody))
            {
                var calls = method.Body.Instructions.Where(i => i.OpCode == OpCodes.Call || i.OpCode == OpCodes.Callvirt);
                foreach (var call in calls)
                {
                    if (call.Operand is not MethodReference callee || !IsStreams(callee) && callee.Name != "JoinUnderMat")
                        continue;
                    if (Problem(call, callee) is { } problem)
                        findings.Add($"{Owner(method)}: {problem}");
                }
            }
        }
        return findings;
    }

    private static bool IsStreams(MethodReference callee) =>
        callee.DeclaringType.Namespace.StartsWith("Akka.Streams", StringComparison.Ordinal)
        || callee.DeclaringType.DeclaringType?.Namespace.StartsWith("Akka.Streams", StringComparison.Ordinal) == true;

    private static string? Problem(Instruction call, MethodReference callee)
    {
        if (callee.Name == "Create" && callee.DeclaringType.Name == "GraphDsl")
        {
            var graphs = callee.Parameters
                .Count(p => p.ParameterType.Name.StartsWith("IGraph", StringComparison.Ordinal));
            return graphs > 1 ? $"GraphDsl.Create with {graphs} graphs makes closures of its own" : null;
        }
        if (ClosuresOfTheirOwn.Contains(callee.Name))
            return $"{callee.Name} makes closures of its own";
        if (!CombinerLast.Contains(callee.Name))
            return null;
        return Combiner(call) is { } target && !IsKeep(target) ? $"{callee.Name} is given a closure" : null;
    }

    /// <summary>The method of the delegate made right before <paramref name="call"/> as its last argument, if one is.</summary>
    private static MethodReference? Combiner(Instruction call)
    {
        var i = call.Previous;
        // A lambda that captures nothing is cached in a static field: "dup; stsfld" after its delegate is made.
        while (i is not null && (i.OpCode == OpCodes.Stsfld || i.OpCode == OpCodes.Dup))
            i = i.Previous;
        if (i is null || i.OpCode != OpCodes.Newobj || i.Previous is not { } load)
            return null;
        return load.OpCode == OpCodes.Ldftn || load.OpCode == OpCodes.Ldvirtftn ? load.Operand as MethodReference : null;
    }

    private static bool IsKeep(MethodReference target) =>
        target is GenericInstanceMethod generic && generic.ElementMethod.DeclaringType.FullName == "Akka.Streams.Dsl.Keep";

    private static string Owner(MethodDefinition method)
    {
        // A lambda's body or an async method's state machine: named after the method it was written in.
        var type = method.DeclaringType;
        while (type.DeclaringType is not null && type.Name.StartsWith('<'))
            type = type.DeclaringType;
        var name = method.Name.StartsWith('<') && method.Name.IndexOf('>') is > 1 and var end
            ? method.Name[1..end]
            : method.Name;
        return $"{type.FullName}::{name}";
    }
}
