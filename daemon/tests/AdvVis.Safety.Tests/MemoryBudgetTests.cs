// MemoryBudget: the default follows the machine, sizes parse as documented, a refusal names what and the budget, and
// a request's budget stays with its async flow (the daemon sets one per request on a worker thread).
using AdvVis.Safety;

namespace AdvVis.Safety.Tests;

public sealed class MemoryBudgetTests
{
    [Fact]
    public void Default_is_a_quarter_of_the_memory_the_runtime_may_use()
    {
        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        Assert.Equal(Math.Max(256L << 20, available / 4), MemoryBudget.DefaultBytes);
        Assert.Equal(MemoryBudget.DefaultBytes, MemoryBudget.Current.Bytes);
    }

    [Theory]
    [InlineData("2G", 2L << 30)]
    [InlineData("512M", 512L << 20)]
    [InlineData("1.5GiB", 3L << 29)]
    [InlineData("64k", 64L << 10)]
    [InlineData("1048576", 1L << 20)]
    public void Sizes_parse_with_binary_units(string text, long bytes) => Assert.Equal(bytes, MemoryBudget.Parse(text).Bytes);

    [Theory]
    [InlineData("")]
    [InlineData("-1G")]
    [InlineData("lots")]
    [InlineData("0")]
    public void Bad_sizes_are_refused_with_an_example(string text) =>
        Assert.Contains("e.g. 4G", Assert.Throws<FormatException>(() => MemoryBudget.Parse(text)).Message);

    [Fact]
    public void A_refusal_names_what_its_size_and_the_budget()
    {
        var budget = new MemoryBudget(1L << 30);
        budget.EnsureFits(1L << 30, "exactly the budget");
        var e = Assert.Throws<MemoryBudgetExceededException>(() => budget.EnsureFits(8464000000, "a float32 tensor of shape [46000,46000]"));
        Assert.StartsWith("A float32 tensor of shape [46000,46000] would need 7.88 GiB, more than the memory budget of 1 GiB", e.Message);
        Assert.Contains("--memory-budget", e.Message);
        var located = e.Within("Output 'y' of node 'bomb' (ConstantOfShape)");
        Assert.StartsWith("Output 'y' of node 'bomb' (ConstantOfShape): a float32 tensor", located.Message);
        Assert.Equal(e.RequestedBytes, located.RequestedBytes);
    }

    [Fact]
    public void Saturating_sizes_never_wrap_around()
    {
        Assert.Equal(long.MaxValue, MemoryBudget.SaturatingBytes(4, long.MaxValue / 2));
        Assert.Equal(long.MaxValue, MemoryBudget.SaturatingBytes(4, 1L << 40, 1L << 40));
        Assert.Equal(0, MemoryBudget.SaturatingBytes(4, 1L << 62, 0));
        Assert.Throws<MemoryBudgetExceededException>(() => new MemoryBudget(1 << 20).EnsureFits(MemoryBudget.SaturatingBytes(8, 1L << 62), "x"));
    }

    [Fact]
    public async Task A_budget_in_use_flows_with_the_request_and_ends_with_it()
    {
        long outside = MemoryBudget.Current.Bytes;
        using (MemoryBudget.Use(new MemoryBudget(1 << 20)))
        {
            Assert.Equal(1 << 20, MemoryBudget.Current.Bytes);
            Assert.Equal(1 << 20, await Task.Run(() => MemoryBudget.Current.Bytes));
            long onAnotherThread = 0;
            var thread = new Thread(() => onAnotherThread = MemoryBudget.Current.Bytes);
            thread.Start();
            thread.Join();
            Assert.Equal(1 << 20, onAnotherThread); // execution context flows into threads started here
        }
        Assert.Equal(outside, MemoryBudget.Current.Bytes);
    }
}
