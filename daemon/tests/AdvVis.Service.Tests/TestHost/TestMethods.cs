// TestMethods: the handlers shared by the in-memory tests, the child-process test host and the node interop script,
// so all three exercise the same behaviour (echo, arithmetic, failures, waiting for cancellation, progress).
using AdvVis.Service.JsonRpc;

namespace AdvVis.Service.Tests.TestHost;

public sealed record EchoParams(string Text);

public sealed record EchoResult(string Text, int Utf16Length, int Utf8Bytes);

public sealed record AddParams(int A, int B);

public sealed record WaitParams(int? Milliseconds = null);

public sealed record ProgressParams(int Steps, int DelayMilliseconds = 0);

public static class TestMethods
{
    public static void Register(Endpoint endpoint)
    {
        endpoint.Register<EchoParams, EchoResult>("test/echo", (p, _) =>
            Task.FromResult(new EchoResult(p.Text, p.Text.Length, System.Text.Encoding.UTF8.GetByteCount(p.Text))), mutates: false);

        // Prints to Console.Out: in stdio mode that must land on stderr, never inside the protocol stream.
        endpoint.Register<EchoParams, string>("test/print", (p, _) =>
        {
            Console.WriteLine(p.Text);
            Console.Out.Flush();
            return Task.FromResult(p.Text);
        }, mutates: false);

        endpoint.Register<AddParams, int>("test/add", (p, _) => Task.FromResult(p.A + p.B), mutates: false);

        endpoint.Register<object?>("test/fail", _ => throw new InvalidOperationException("boom"), mutates: false);

        endpoint.Register<object?>("test/rpcError", _ =>
            throw new JsonRpcException(JsonRpcErrorCodes.ContentModified, "content modified", new { reason = "test" }), mutates: false);

        // Waits for the given time or, without one, until cancelled: the cancellation tests' victim.
        endpoint.Register<WaitParams, string>("test/wait", async (p, context) =>
        {
            await Task.Delay(p.Milliseconds is { } ms ? TimeSpan.FromMilliseconds(ms) : Timeout.InfiniteTimeSpan, context.CancellationToken);
            return "waited";
        }, mutates: false);

        endpoint.Register<ProgressParams, int>("test/progress", async (p, context) =>
        {
            context.BeginProgress("Testing progress", "starting", 0);
            for (int step = 1; step <= p.Steps; step++)
            {
                if (p.DelayMilliseconds > 0)
                {
                    await Task.Delay(p.DelayMilliseconds, context.CancellationToken);
                }

                context.ReportProgress($"step {step}", step * 100 / p.Steps);
            }

            context.EndProgress("done");
            return p.Steps;
        }, mutates: false);
    }
}
