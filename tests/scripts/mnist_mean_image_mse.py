"""Reference for tests/tests/run_loop.rs: the per-pixel MSE of predicting the mean MNIST test image.

Usage: python3 tests/scripts/mnist_mean_image_mse.py ../shared/datasets/mnist
Printed on 2026-11-25: 0.06740848044874126
"""
import gzip
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "../shared/datasets/mnist"
data = gzip.open(f"{root}/t10k-images-idx3-ubyte.gz").read()[16:]
n, d = 10000, 784
mean = [0.0] * d
for i in range(n):
    row = data[i * d:(i + 1) * d]
    for j in range(d):
        mean[j] += row[j]
mean = [m / n / 255 for m in mean]
total = 0.0
for i in range(n):
    row = data[i * d:(i + 1) * d]
    for j in range(d):
        e = row[j] / 255 - mean[j]
        total += e * e
print(total / (n * d))
