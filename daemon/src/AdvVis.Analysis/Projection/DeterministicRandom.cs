// Small, fast, seedable pseudo-random generators. Every randomized step of the projection code
// takes an explicit seed and draws from these, so the same seed gives the same bytes on every
// machine (System.Random's algorithm is not a documented contract, these are).
using System.Numerics;

namespace AdvVis.Analysis.Projection;

/// <summary>SplitMix64: used to expand one seed into independent streams/seeds.</summary>
internal struct SplitMix64(ulong state)
{
    private ulong _state = state;

    public ulong Next()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The seed of sub-stream <paramref name="stream"/> of <paramref name="seed"/> (e.g. one per layer).</summary>
    public static ulong Derive(ulong seed, ulong stream)
    {
        var mixer = new SplitMix64(seed ^ (0xD1B54A32D192ED03UL * (stream + 1)));
        mixer.Next();
        return mixer.Next();
    }
}

/// <summary>xoshiro128** (32-bit outputs): the per-step generator inside SGD, where speed matters.</summary>
internal struct Xoshiro128StarStar
{
    private uint _s0, _s1, _s2, _s3;

    public Xoshiro128StarStar(ulong seed)
    {
        var init = new SplitMix64(seed);
        ulong a = init.Next(), b = init.Next();
        _s0 = (uint)a; _s1 = (uint)(a >> 32); _s2 = (uint)b; _s3 = (uint)(b >> 32);
        if ((_s0 | _s1 | _s2 | _s3) == 0)
            _s0 = 1; // the all-zero state is a fixed point
    }

    public uint NextUInt()
    {
        uint result = BitOperations.RotateLeft(_s1 * 5, 7) * 9;
        uint t = _s1 << 9;
        _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3;
        _s2 ^= t;
        _s3 = BitOperations.RotateLeft(_s3, 11);
        return result;
    }

    /// <summary>Uniform integer in [0, n) by multiply-shift (bias ≤ n / 2^32, irrelevant for sampling).</summary>
    public int NextInt(int n) => (int)(((ulong)NextUInt() * (uint)n) >> 32);

    /// <summary>Uniform double in [0, 1) with 53 random bits.</summary>
    public double NextDouble()
    {
        ulong bits = ((ulong)NextUInt() << 21) ^ (NextUInt() >> 11);
        return (bits & ((1UL << 53) - 1)) * (1.0 / (1UL << 53));
    }

    /// <summary>Standard normal via Box–Muller (one value per call; simple beats fast here).</summary>
    public double NextGaussian()
    {
        double u1 = 1.0 - NextDouble(); // (0, 1]
        double u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
