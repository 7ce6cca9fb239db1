#!/usr/bin/env python3
"""PyTorch twin of `crates/genzoo-layers/examples/matmul_peak.rs`: the same matrix products, forward,
best of 7, so the GEMM throughput of both libraries can be compared on one machine.

    python3 bench/pytorch/matmul_peak.py --threads 2
"""
import argparse
import time

import torch

SHAPES = [
    ("square 2048", 1, 2048, 2048, 2048),
    ("pixelcnn 1×1 128→64, batch 64", 64, 64, 128, 784),
    ("pixelcnn 3×3 mask B taps, batch 64", 64, 64, 320, 784),
    ("gated vertical pair as GEMM", 1, 128, 384, 25_088),
    ("dcgan D conv2 im2col", 1, 128, 1024, 3136),
]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    print(f"{'shape':<38} {'ms':>10} {'GFLOP/s':>10}")
    for what, batch, m, k, n in SHAPES:
        x = torch.randn(batch, m, k)
        y = torch.randn(batch, k, n)
        run = lambda: torch.matmul(x, y).sum().item()  # noqa: E731
        run()
        best = float("inf")
        for _ in range(7):
            t0 = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - t0)
        print(f"{what:<38} {best * 1e3:>10.2f} {2 * batch * m * k * n / best / 1e9:>10.1f}")


if __name__ == "__main__":
    main()
