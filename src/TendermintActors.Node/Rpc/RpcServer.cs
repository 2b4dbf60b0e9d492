using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Actor;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using TendermintActors.Peers;
using TendermintActors.Protocol.Identity;
using TendermintActors.Switching;

namespace TendermintActors.Node.Rpc;

/// <summary>
/// The node's RPC server: CometBFT's p2p routes (<c>/status</c>, <c>/net_info</c>, and with
/// <c>rpc.unsafe</c> <c>/dial_peers</c>, <c>/dial_seeds</c>), each as a GET with URI arguments and as a JSON-RPC 2.0
/// POST to <c>/</c>, plus Prometheus <c>/metrics</c>, on Kestrel. Handlers Ask the switch and peers: this is the edge
/// of the actor system, where a request waits for an answer anyway.
/// </summary>
internal static class RpcServer
{
    public const string DefaultListenAddress = "tcp://127.0.0.1:26657";

    internal sealed record Settings(string ListenAddress, bool Unsafe, TimeSpan AskTimeout);

    /// <summary>A bound server; <see cref="Address"/> is where it listens, as <c>tcp://host:port</c>.</summary>
    internal sealed class Running(WebApplication app, string address) : IAsyncDisposable
    {
        public string Address { get; } = address;

        /// <summary>The same address as an HTTP base URL, for clients.</summary>
        public Uri Url { get; } = new("http://" + address["tcp://".Length..] + "/");

        public async Task StopAsync()
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }

        public async ValueTask DisposeAsync() => await StopAsync();
    }

    /// <summary>A JSON-RPC error a route answers with.</summary>
    private sealed class RpcException(int code, string message, string data) : Exception(message)
    {
        public int Code { get; } = code;
        public string Detail { get; } = data;
    }

    private delegate Task<JsonNode> Method(JsonObject args);

    /// <summary>The node the methods ask: its switch, and its address book (null with PEX off).</summary>
    internal sealed record Target(IActorRef Switch, IActorRef? AddrBook);

    /// <summary>
    /// Binds <paramref name="settings"/>' address (port 0 picks a free one) and starts serving. The node may come
    /// later (<paramref name="node"/> completes once it runs): the node process binds RPC first, so that its node info
    /// can carry the address RPC serves; a method called before then waits for it.
    /// </summary>
    public static async Task<Running> Start(Settings settings, Task<Target> node, MeterProvider meters, CancellationToken cancellation)
    {
        var endpoint = ParseListenAddress(settings.ListenAddress);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        // The node logs through Akka; ASP.NET's console logger would interleave its own lines with ours.
        builder.Logging.ClearProviders();
        // The node owns Ctrl-C and SIGTERM (Runtime/ShutdownSignals.cs) and stops RPC through CoordinatedShutdown. The
        // host's default console lifetime would add its own signal and process-exit handlers, which race with ours.
        builder.Services.AddSingleton<IHostLifetime, NodeOwnedLifetime>();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(endpoint));
        var app = builder.Build();

        var bound = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var methods = Methods(settings, node, bound.Task);

        app.MapPrometheusScrapingEndpoint("/metrics", meters, null, null);
        app.MapGet("/{method}", (string method, HttpContext http) => ServeUri(methods, method, http));
        // Cast so that the result is written: a bare HttpContext lambda would bind as a RequestDelegate and drop it.
        app.MapPost("/", (Delegate)((HttpContext http) => ServeJsonRpc(methods, http)));

        try
        {
            await app.StartAsync(cancellation);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException)
        {
            // Kestrel wraps only "address in use" in an IOException; an address that is not ours, or a port below
            // 1024 without the right, comes out as a bare SocketException. Either way: name the flag.
            await app.DisposeAsync();
            throw new IOException($"cannot serve RPC on tendermint.rpc.laddr (--rpc.laddr) {settings.ListenAddress}: {e.Message}", e);
        }
        var url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var uri = new Uri(url);
        var address = $"tcp://{NetAddress.FormatHostPort(uri.Host.Trim('[', ']'), uri.Port)}";
        bound.SetResult(address);
        return new Running(app, address);
    }

    /// <summary>CometBFT's <c>tcp://host:port</c>; the host must be an IP address or <c>localhost</c>.</summary>
    internal static IPEndPoint ParseListenAddress(string laddr)
    {
        var text = laddr.StartsWith("tcp://", StringComparison.Ordinal) ? laddr["tcp://".Length..] : laddr;
        // Not NetAddress.TryParseHostPort: a peer's port 0 is invalid, but here 0 asks for a free port.
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text[(colon + 1)..], System.Globalization.NumberStyles.None,
                System.Globalization.CultureInfo.InvariantCulture, out var port) || port > 65535)
            throw new FormatException($"rpc.laddr '{laddr}': expected tcp://host:port with a port from 0 to 65535");
        var host = text[..colon].Trim('[', ']');
        if (host == "localhost")
            return new IPEndPoint(IPAddress.Loopback, port);
        if (!IPAddress.TryParse(host, out var ip))
            throw new FormatException($"rpc.laddr '{laddr}': '{host}' is not an IP address");
        return new IPEndPoint(ip, port);
    }

    private static Dictionary<string, Method> Methods(Settings settings, Task<Target> node, Task<string> rpcAddress)
    {
        var timeout = settings.AskTimeout;
        var methods = new Dictionary<string, Method>(StringComparer.Ordinal)
        {
            ["status"] = async _ =>
            {
                var info = await (await node).Switch.Ask<Switch.NodeInfoReply>(Switch.GetNodeInfo.Instance, timeout);
                return RpcJson.Status(info.NodeInfo, await rpcAddress);
            },
            ["net_info"] = async _ =>
            {
                var sw = (await node).Switch;
                var info = await sw.Ask<Switch.NodeInfoReply>(Switch.GetNodeInfo.Instance, timeout);
                var peers = await sw.Ask<Switch.Peers>(Switch.GetPeers.Instance, timeout);
                var statuses = await Task.WhenAll(peers.Connected.Select(p => PeerStatus(p.Actor, timeout)));
                // Go prints the transport's NetAddress: host:port, no scheme.
                var listener = info.NodeInfo.ListenAddr.StartsWith("tcp://", StringComparison.Ordinal) ? info.NodeInfo.ListenAddr["tcp://".Length..] : info.NodeInfo.ListenAddr;
                return RpcJson.NetInfo(listener, [.. statuses.OfType<Peer.Status>()], DateTimeOffset.UtcNow);
            },
        };
        if (settings.Unsafe)
        {
            // CometBFT's UnsafeDialPeers (rpc/core/net.go): persistent, private and unconditional each add the peers'
            // IDs to that list before the dial.
            methods["dial_peers"] = async args =>
            {
                var (persistent, unconditional, isPrivate) = (Flag(args, "persistent"), Flag(args, "unconditional"), Flag(args, "private"));
                var addresses = Addresses(args, "peers");
                var target = await node;
                if (isPrivate)
                    target.AddrBook?.Tell(new Pex.AddrBook.AddPrivateIds(addresses.Select(a => a.Id).Distinct().ToList()));
                target.Switch.Tell(new Switch.DialPeers(addresses, persistent, unconditional));
                return new JsonObject { ["Log"] = "Dialing peers in progress. See /net_info for details" };
            };
            // Without PEX a seed is dialled as any other peer; it hangs up once it has nothing to give.
            methods["dial_seeds"] = async args =>
            {
                var addresses = Addresses(args, "seeds");
                (await node).Switch.Tell(new Switch.DialPeers(addresses));
                return new JsonObject { ["Log"] = "Dialing seeds in progress. See /net_info for details" };
            };
        }
        return methods;
    }

    /// <summary>
    /// The status of one peer, or null when it stops before it answers (Go's net_info skips peers gone from the set).
    /// A stopped actor never answers, so the peer is watched while asked: its end answers at once instead of the ask's
    /// timeout, which used to hold the whole <c>/net_info</c> answer for that long when a peer stopped meanwhile.
    /// </summary>
    internal static async Task<Peer.Status?> PeerStatus(IActorRef peer, TimeSpan timeout)
    {
        using var done = new CancellationTokenSource();
        var ask = peer.Ask<Peer.Status>(Peer.GetStatus.Instance, timeout, done.Token);
        var stopped = peer.WatchAsync(done.Token);
        var first = await Task.WhenAny(ask, stopped);
        await done.CancelAsync();
        try
        {
            return await ask;
        }
        catch (Exception e) when (e is AskTimeoutException || (e is OperationCanceledException && first == stopped))
        {
            return null;
        }
        finally
        {
            // The watch ends with the cancellation (or ended the ask); its outcome is not needed.
            _ = stopped.ContinueWith(static t => t.Exception, TaskContinuationOptions.OnlyOnFaulted);
        }
    }

    /// <summary>A boolean argument of dial_peers; absent is false.</summary>
    private static bool Flag(JsonObject args, string name) => args[name] switch
    {
        null => false,
        JsonValue v when v.TryGetValue<bool>(out var b) => b,
        JsonValue v when v.TryGetValue<string>(out var s) && bool.TryParse(s, out var b) => b,
        _ => throw new RpcException(RpcJson.InvalidParams, "Invalid params", $"{name} must be true or false"),
    };

    private static List<NetAddress> Addresses(JsonObject args, string name)
    {
        if (args[name] is not JsonArray list || list.Any(e => e is not JsonValue v || !v.TryGetValue<string>(out _)))
            throw new RpcException(RpcJson.InvalidParams, "Invalid params", $"{name} must be a JSON array of \"id@host:port\" strings");
        if (list.Count == 0)
            throw new RpcException(RpcJson.InternalError, "Internal error", $"no {name} provided");
        var addresses = new List<NetAddress>();
        foreach (var text in list.Select(e => e!.GetValue<string>()))
        {
            if (!NetAddress.TryParse(text, out var address, out var error))
                throw new RpcException(RpcJson.InternalError, "Internal error", $"error dialing {name}: '{text}': {error}");
            addresses.Add(address);
        }
        return addresses;
    }

    private static async Task<IResult> ServeUri(Dictionary<string, Method> methods, string name, HttpContext http)
    {
        JsonNode id = RpcJson.UriRequestId;
        if (!methods.TryGetValue(name, out var method))
            return Json(StatusCodes.Status404NotFound, RpcJson.Error(id, RpcJson.MethodNotFound, "Method not found", name));
        // CometBFT's URI arguments are JSON values (strings quoted); a bare word is taken as a string.
        var args = new JsonObject();
        foreach (var (key, values) in http.Request.Query)
            args[key] = ParseArgument(values.ToString());
        var (status, body) = await Invoke(method, args, id);
        return Json(status, body);
    }

    private static async Task<IResult> ServeJsonRpc(Dictionary<string, Method> methods, HttpContext http)
    {
        JsonNode? request;
        try
        {
            request = await JsonNode.ParseAsync(http.Request.Body, cancellationToken: http.RequestAborted);
        }
        catch (JsonException e)
        {
            return Json(StatusCodes.Status200OK, RpcJson.Error(null, RpcJson.ParseError, "Parse error", e.Message));
        }
        if (request is not JsonObject call || call["method"] is not JsonValue m || !m.TryGetValue<string>(out var name))
            return Json(StatusCodes.Status200OK, RpcJson.Error(null, RpcJson.InvalidRequest, "Invalid Request", "expected a JSON-RPC 2.0 request object with a method"));
        var id = call["id"];
        if (!methods.TryGetValue(name, out var method))
            return Json(StatusCodes.Status200OK, RpcJson.Error(id, RpcJson.MethodNotFound, "Method not found", name));
        var args = call["params"] switch
        {
            null => new JsonObject(),
            JsonObject o => (JsonObject)o.DeepClone(),
            _ => null,
        };
        if (args is null)
            return Json(StatusCodes.Status200OK, RpcJson.Error(id, RpcJson.InvalidParams, "Invalid params", "params must be an object"));
        var (_, body) = await Invoke(method, args, id);
        return Json(StatusCodes.Status200OK, body);
    }

    private static async Task<(int Status, JsonObject Body)> Invoke(Method method, JsonObject args, JsonNode? id)
    {
        try
        {
            return (StatusCodes.Status200OK, RpcJson.Result(id, await method(args)));
        }
        catch (RpcException e)
        {
            var status = e.Code == RpcJson.InvalidParams ? StatusCodes.Status400BadRequest : StatusCodes.Status500InternalServerError;
            return (status, RpcJson.Error(id, e.Code, e.Message, e.Detail));
        }
        catch (AskTimeoutException e)
        {
            return (StatusCodes.Status500InternalServerError, RpcJson.Error(id, RpcJson.InternalError, "Internal error", e.Message));
        }
    }

    private static JsonNode? ParseArgument(string text)
    {
        try
        {
            return JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            return JsonValue.Create(text);
        }
    }

    private static IResult Json(int status, JsonObject body) =>
        Results.Text(body.ToJsonString(), "application/json", System.Text.Encoding.UTF8, status);
}

/// <summary>A host lifetime that leaves signals and process exit to the node (see <see cref="RpcServer.Start"/>).</summary>
internal sealed class NodeOwnedLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
