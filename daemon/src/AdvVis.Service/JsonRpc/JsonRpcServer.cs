// JsonRpcServer: the daemon's "serve --stdio" host. It owns the process-level concerns the Endpoint should not:
// raw stdin/stdout streams and keeping stray Console.WriteLine calls from corrupting the protocol stream.
namespace AdvVis.Service.JsonRpc;

/// <summary>Hosts an <see cref="Endpoint"/> on the process's stdin/stdout.</summary>
public static class JsonRpcServer
{
    /// <summary>
    /// Runs a JSON-RPC endpoint on stdin/stdout until exit or end of input and returns the process exit code.
    /// Console.Out is redirected to stderr first: any library code that prints would otherwise inject bytes into
    /// the frame stream and desynchronise the client.
    /// </summary>
    public static async Task<int> RunStdioAsync(Action<Endpoint> register, EndpointOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(register);
        options ??= new EndpointOptions();

        // Open the raw stdout stream before redirecting Console.Out, and never through Console.Out itself: the
        // TextWriter would apply its own encoding and buffering to protocol bytes.
        await using Stream stdout = Console.OpenStandardOutput();
        await using Stream stdin = Console.OpenStandardInput();
        Console.SetOut(Console.Error);

        var endpoint = new Endpoint(stdin, stdout, options);
        register(endpoint);
        options.Logger.Info($"AdvVis JSON-RPC endpoint {endpoint.ServerVersion} serving on stdio.");
        int exitCode = await endpoint.RunAsync(cancellationToken).ConfigureAwait(false);
        options.Logger.Info($"Endpoint stopped with exit code {exitCode}.");
        return exitCode;
    }
}
