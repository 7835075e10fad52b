// robustness/evaluate: thin handler over AdvVis.Attacks.RobustnessSuite (the robustness report's numbers).
using AdvVis.Attacks;
using AdvVis.Service.Daemon;
using AdvVis.Service.JsonRpc;
using AdvVis.Service.Protocol;

namespace AdvVis.Service.Handlers;

internal static class RobustnessHandlers
{
    public static void Register(Registrar r) =>
        r.Add<RobustnessEvaluateParams, RobustnessEvaluateResult>("robustness/evaluate", (p, context) =>
        {
            var model = r.State.Models.Get(p.Model);
            var batch = Items.Load(model, p.Items, context.CancellationToken, maxItems: 10_000);
            var attackModel = AttackHandlers.AttackModelFor(model);
            var norm = ToNorm(p.Norm);
            bool defaultEps = p.Eps is null || p.Eps.Length == 0;
            var eps = defaultEps
                ? [SuiteOptions.DefaultEpsilon(norm, attackModel.Channels, attackModel.Height, attackModel.Width)
                   ?? throw new ArgumentException($"eps is needed: no standard {p.Norm} budget is known for {attackModel.Channels}×{attackModel.Height}×{attackModel.Width} inputs.")]
                : p.Eps!;
            var options = new SuiteOptions
            {
                Norm = norm, Epsilon = eps[0], Version = (SuiteVersion)(int)p.Version, Seed = unchecked((int)p.Seed),
                Attacks = p.Attacks?.Select(a => (SuiteAttack)(int)a).ToArray() ?? [],
                Iterations = p.Steps ?? 100, SquareQueries = p.Queries ?? 5000,
            };
            options.Validate();
            return Common.Cached(r, context, "robustness/evaluate", model.Sha256, p with { Items = new ItemsRef() }, batch.Fingerprint, _ =>
            {
                context.BeginProgress("Robustness", $"0/{batch.Count} items", 0, cancellable: true);
                var clean = attackModel.Evaluate(batch.Pixels, context.CancellationToken);
                int[] labels = batch.HasLabels ? batch.Labels : Enumerable.Range(0, batch.Count).Select(clean.Predicted).ToArray();
                var reports = RobustnessSuite.Run(attackModel, batch.Pixels, labels, options, eps, new Progress(context), context.CancellationToken);
                return new RobustnessEvaluateResult(p.Norm, p.Version, options.Sequence().Select(SuiteOptions.NameOf).ToArray(),
                    reports.Select(Convert).ToArray(), defaultEps, "pixel [0,1]", false);
            }, hit => hit with { FromCache = true });
        });

    private static Norm ToNorm(AttackNorm norm) => norm switch { AttackNorm.L2 => Norm.L2, AttackNorm.L1 => Norm.L1, _ => Norm.LInf };

    /// <summary>The budgets robustness/evaluate uses when eps is omitted, per norm that has one for this input (ModelInfo).</summary>
    public static StandardBudget[] StandardBudgets(int channels, int height, int width) =>
        Enum.GetValues<AttackNorm>().Select(n => (Norm: n, Eps: SuiteOptions.DefaultEpsilon(ToNorm(n), channels, height, width)))
            .Where(b => b.Eps is not null).Select(b => new StandardBudget(b.Norm, b.Eps!.Value)).ToArray();

    private static RobustnessAtEps Convert(SuiteReport s) => new(s.Epsilon, s.Count, s.CleanAccuracy, s.RobustAccuracy,
        s.Stages.Select(st => new RobustnessStage(st.Attack, st.Attacked, st.Fooled, st.RobustAfter, st.RobustAccuracy, st.Seconds)).ToArray(),
        s.Flags.Select(f => new RobustnessFlag(f.Check, f.Message)).ToArray(), s.MaxPerturbation, s.InvalidExamples, s.Seconds);

    /// <summary>Progress on the caller's thread (Progress&lt;T&gt; would post and reorder).</summary>
    private sealed class Progress(RequestContext context) : IProgress<AttackProgress>
    {
        public void Report(AttackProgress value) =>
            context.ReportProgress($"{value.Stage} ({value.ImagesDone + 1}/{value.Images})", (int)Math.Round(Math.Clamp(value.Fraction, 0, 1) * 100));
    }
}
