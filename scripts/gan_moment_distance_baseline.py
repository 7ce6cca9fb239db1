"""Calibration for the GAN `moment_distance` metric (crates/genzoo-gan/src/task.rs).

moment_distance(A, B) = mean over pixels of (mean_A - mean_B)^2 + mean over pixels of (std_A - std_B)^2,
pixels in [0, 1], std the population std. The GAN task compares the first 1,000 MNIST test images with
1,000 samples. This script prints the value for reference sets instead of samples:
  - real vs real: first 1,000 training images (what a perfect generator would roughly score),
  - the mean training image repeated (a fully collapsed, blurry generator),
  - uniform noise in [0, 1].
Usage: python3 scripts/gan_moment_distance_baseline.py /work/shared/datasets/mnist   (numpy only)
"""
import gzip
import sys

import numpy as np


def images(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    n, rows, cols = (int.from_bytes(data[i : i + 4], "big") for i in (4, 8, 12))
    return np.frombuffer(data, np.uint8, offset=16).reshape(n, rows * cols).astype(np.float64) / 255.0


def moment_distance(a, b):
    return float(np.mean((a.mean(0) - b.mean(0)) ** 2) + np.mean((a.std(0) - b.std(0)) ** 2))


root = sys.argv[1] if len(sys.argv) > 1 else "../shared/datasets/mnist"
test = images(f"{root}/t10k-images-idx3-ubyte.gz")[:1000]
train = images(f"{root}/train-images-idx3-ubyte.gz")
rng = np.random.default_rng(0)
print(f"real train[:1000] vs test[:1000]: {moment_distance(train[:1000], test):.6f}")
print(f"mean train image x1000 vs test:   {moment_distance(np.tile(train.mean(0), (1000, 1)), test):.6f}")
print(f"uniform noise vs test:            {moment_distance(rng.uniform(size=(1000, 784)), test):.6f}")
