#!/usr/bin/env python3
"""Reference outputs for genzoo-datasets' src/rng.rs (xoshiro256++ seeded by SplitMix64).

Run: python3 crates/genzoo-datasets/scripts/xoshiro_reference.py
and paste the output between REFERENCE-BEGIN / REFERENCE-END in src/rng.rs.
Written from the reference C code at https://prng.di.unimi.it/ (xoshiro256plusplus.c, splitmix64.c).
"""
import math

M = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def mix(z):
    z = (z + GOLDEN) & M
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
    return z ^ (z >> 31)


def derive_seed(seed, parts):
    h = mix(seed)
    for p in parts:
        h = mix(h ^ mix(p))
    return h


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M


class Rng:
    def __init__(self, seed):
        self.s = []
        x = seed
        for _ in range(4):
            self.s.append(mix(x))
            x = (x + GOLDEN) & M

    def next_u64(self):
        s = self.s
        result = (rotl((s[0] + s[3]) & M, 23) + s[0]) & M
        t = (s[1] << 17) & M
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result

    def uniform_f64(self):
        return (self.next_u64() >> 11) * 2.0**-53

    def uniform_f32(self):
        return (self.next_u64() >> 40) * 2.0**-24

    def normal(self):
        u1 = 1.0 - self.uniform_f64()
        u2 = self.uniform_f64()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)

    def below(self, n):
        m = self.next_u64() * n
        if (m & M) < n:
            threshold = ((1 << 64) - n) % n
            while (m & M) < threshold:
                m = self.next_u64() * n
        return m >> 64

    def shuffle(self, xs):
        for i in range(len(xs) - 1, 0, -1):
            j = self.below(i + 1)
            xs[i], xs[j] = xs[j], xs[i]


def main():
    r = Rng(42)
    print("const SEED42_U64: [u64; 6] = [" + ", ".join(f"0x{r.next_u64():016x}" for _ in range(6)) + "];")
    print("const SEED42_STATE_AFTER_6: [u64; 4] = [" + ", ".join(f"0x{w:016x}" for w in r.s) + "];")
    r = Rng(0)
    print("const SEED0_U64: [u64; 3] = [" + ", ".join(f"0x{r.next_u64():016x}" for _ in range(3)) + "];")
    r = Rng(7)
    print("const SEED7_F64: [f64; 4] = [" + ", ".join(repr(r.uniform_f64()) for _ in range(4)) + "];")
    # f32 draws are exact in f64; printed as f64 so the Rust literal is not over-precise for an f32.
    print("const SEED7_F32_NEXT_AS_F64: [f64; 4] = [" + ", ".join(repr(r.uniform_f32()) for _ in range(4)) + "];")
    r = Rng(2024)
    print("const SEED2024_NORMAL: [f64; 4] = [" + ", ".join(repr(r.normal()) for _ in range(4)) + "];")
    r = Rng(9)
    print("const SEED9_BELOW10: [u64; 10] = [" + ", ".join(str(r.below(10)) for _ in range(10)) + "];")
    print("const SEED9_BELOW_HUGE: u64 = " + str(r.below((1 << 63) + 12345)) + ";")
    r = Rng(1)
    xs = list(range(10))
    r.shuffle(xs)
    print("const SEED1_SHUFFLE10: [usize; 10] = [" + ", ".join(map(str, xs)) + "];")
    print(f"const DERIVE_5_EMPTY: u64 = 0x{derive_seed(5, []):016x};")
    print(f"const DERIVE_5_3_7: u64 = 0x{derive_seed(5, [3, 7]):016x};")


if __name__ == "__main__":
    main()
