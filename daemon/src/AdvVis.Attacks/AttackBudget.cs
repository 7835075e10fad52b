// AdvVis.Attacks: adversarial attacks over the engine's gradients. Budgets live in pixel space [0, 1].
// It knows nothing about analyses, JSON or the editor.
namespace AdvVis.Attacks;
