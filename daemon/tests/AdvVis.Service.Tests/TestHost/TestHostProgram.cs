// TestHostProgram: entry point of the test assembly when run as "dotnet AdvVis.Service.Tests.dll --test-host".
// It serves TestMethods over stdio exactly as the daemon's "serve --stdio" will, so the child-process test and the
// node vscode-jsonrpc interop script talk to the real stdio host. Under "dotnet test" this Main is never called.
using AdvVis.Service.JsonRpc;

namespace AdvVis.Service.Tests.TestHost;

public static class TestHostProgram
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length == 1 && args[0] == "--test-host")
        {
            var options = new EndpointOptions
            {
                Logger = RpcLogger.Stderr(Environment.GetEnvironmentVariable("ADVVIS_RPC_LOG") == "debug" ? RpcLogLevel.Debug : RpcLogLevel.Warning),
            };
            return await JsonRpcServer.RunStdioAsync(TestMethods.Register, options);
        }

        await Console.Error.WriteLineAsync("usage: dotnet AdvVis.Service.Tests.dll --test-host   (serves the test JSON-RPC methods on stdio)");
        return 64;
    }
}
