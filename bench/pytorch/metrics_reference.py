"""PyTorch reference for `genzoo bench metrics`: genzoo-LeNet feature extraction and a whole `calibrate`,
computed the way a PyTorch user would (torch-fidelity's formulas), on the same machine.

- Feature extraction: the penultimate layer of genzoo-LeNet (conv 5x5 1->32, ReLU, max-pool 2, conv 5x5
  32->64, ReLU, max-pool 2, linear 1024->128, ReLU) over the first N MNIST test images in batches of 500
  under `torch.inference_mode()`; the rate is the median over repeats of N / seconds, like genzoo's.
- Calibration: what `genzoo calibrate --dataset mnist --n N` computes, timed as a whole: features of the test
  set, of the train set's first N, of the test images with each image's pixels shuffled and of the test
  images blurred by a Gaussian of sigma = 1 (radius 2, edges clamped, rounded back to bytes); against the test
  features: FID (unbiased covariances, float64, the trace of the square root from the eigenvalues of
  sqrt(S1) S2 sqrt(S1)), KID (cubic kernel, 100 subsets of 1,000), IS (10 consecutive splits of the softmax) and
  precision/recall (k = 3 nearest-neighbour radii, Kynkaanniemi et al. 2019).

The weights are genzoo's shipped extractor (`crates/genzoo-metrics/weights/lenet-mnist.safetensors`, burn's
layout: linear weights are [in, out]), so the train-vs-test row's FID, IS and precision/recall must equal
genzoo's (KID's subsets and the pixel shuffles are drawn by another generator: equal within their spread).

    python3 bench/pytorch/metrics_reference.py --threads 2 --json torch-metrics.json
    genzoo bench metrics --threads 2 --json genzoo-metrics.json        # the same on genzoo

The MNIST files are read from --data-dir, else $GENZOO_DATA_DIR (mnist/*-ubyte.gz).
"""

import argparse
import gzip
import json
import os
import platform
import resource
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import load_file

from reference import cpu_info

BATCH = 500
HERE = os.path.dirname(os.path.abspath(__file__))
WEIGHTS = os.path.join(HERE, "..", "..", "crates", "genzoo-metrics", "weights", "lenet-mnist.safetensors")


def read_idx_images(path):
    """The images of an IDX file (gzip), [n, 28, 28] uint8."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    n, rows, cols = (int.from_bytes(data[i:i + 4], "big") for i in (4, 8, 12))
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, rows, cols)


class LeNet:
    """genzoo-LeNet with genzoo's weights; `features` and `probs` as `LeNet::features` and its softmax."""

    def __init__(self, path):
        w = {k: torch.from_numpy(v.copy()) for k, v in load_file(path).items()}
        self.conv1 = (w["conv1.weight"], w["conv1.bias"])
        self.conv2 = (w["conv2.weight"], w["conv2.bias"])
        self.fc1 = (w["fc1.weight"].t().contiguous(), w["fc1.bias"])  # burn's [in, out] -> torch's [out, in]
        self.fc2 = (w["fc2.weight"].t().contiguous(), w["fc2.bias"])

    def features(self, x):
        x = x * 2.0 - 1.0
        x = F.max_pool2d(F.relu(F.conv2d(x, *self.conv1)), 2)
        x = F.max_pool2d(F.relu(F.conv2d(x, *self.conv2)), 2)
        return F.relu(F.linear(x.flatten(1), *self.fc1))

    def probs(self, h):
        return F.softmax(F.linear(h, *self.fc2), dim=1)


def extract(net, images):
    """Features and class probabilities of uint8 images [n, 28, 28], in batches of 500."""
    feats, probs = [], []
    with torch.inference_mode():
        for s in range(0, len(images), BATCH):
            x = torch.from_numpy(images[s:s + BATCH].astype(np.float32) / 255.0).unsqueeze(1)
            h = net.features(x)
            feats.append(h)
            probs.append(net.probs(h))
    return torch.cat(feats).double(), torch.cat(probs).double()


def shuffled(images, seed=0):
    """Each image's pixels in a random order of its own."""
    rng = np.random.default_rng(seed)
    flat = images.reshape(len(images), -1).copy()
    for row in flat:
        rng.shuffle(row)
    return flat.reshape(images.shape)


def blurred(images):
    """A separable Gaussian of sigma = 1 pixel (radius 2, edges clamped), rounded back to bytes."""
    k = np.exp(-np.arange(-2, 3, dtype=np.float32) ** 2 / 2.0)
    k /= k.sum()
    x = images.astype(np.float32)
    h, w = x.shape[1:]
    cols = np.clip(np.arange(w)[:, None] + np.arange(-2, 3)[None, :], 0, w - 1)
    rows = np.clip(np.arange(h)[:, None] + np.arange(-2, 3)[None, :], 0, h - 1)
    x = (x[:, :, cols] * k).sum(-1)
    x = (x[:, rows, :] * k[None, None, :, None]).sum(2)
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def sqrt_psd(m):
    vals, vecs = torch.linalg.eigh(m)
    return (vecs * vals.clamp(min=0).sqrt()) @ vecs.T


def fid(a, b):
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    s = sqrt_psd(cov_a)
    cross = torch.linalg.eigvalsh(s @ cov_b @ s).clamp(min=0).sqrt().sum()
    return float((mu_a - mu_b).square().sum() + cov_a.trace() + cov_b.trace() - 2 * cross)


def kid(a, b, subsets=100, size=1000, seed=0):
    """torch-fidelity's KID: unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3 over random subsets."""
    g = torch.Generator().manual_seed(seed)
    d = a.shape[1]
    m = min(size, len(a), len(b))
    values = []
    for _ in range(subsets):
        x = a[torch.randperm(len(a), generator=g)[:m]]
        y = b[torch.randperm(len(b), generator=g)[:m]]
        kxx = (x @ x.T / d + 1) ** 3
        kyy = (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        values.append(float((kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
                            + (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
                            - 2 * kxy.mean()))
    return float(np.mean(values)), float(np.std(values))


def inception_score(p, splits=10):
    scores = []
    for part in torch.chunk(p, splits):
        py = part.mean(0, keepdim=True)
        kl = (part * (torch.log(part.clamp(min=1e-30)) - torch.log(py.clamp(min=1e-30)))).sum(1).mean()
        scores.append(float(torch.exp(kl)))
    return float(np.mean(scores)), float(np.std(scores))


def knn_radii_sq(x, k, block=1024):
    out = []
    for s in range(0, len(x), block):
        d = torch.cdist(x[s:s + block], x).square()
        out.append(d.kthvalue(k + 1, dim=1).values)
    return torch.cat(out)


def covered(queries, centres, radii, block=1024):
    inside = 0
    for s in range(0, len(queries), block):
        d = torch.cdist(queries[s:s + block], centres).square()
        inside += int((d <= radii[None, :]).any(1).sum())
    return inside / len(queries)


def precision_recall(real, fake, k=3):
    rr, rf = knn_radii_sq(real, k), knn_radii_sq(fake, k)
    return covered(fake, real, rr), covered(real, fake, rf)


def timed(f):
    t0 = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t0


def calibrate(net, train, test, n):
    """The rows of `genzoo calibrate`, each with the seconds of each metric; and the whole wall time."""
    t_start = time.perf_counter()
    (ref, ref_p), t_ref = timed(lambda: extract(net, test[:n]))
    rows = {}
    for name, other in [("mnist train vs test", train[:n]),
                        ("mnist test vs test, pixels shuffled", shuffled(test[:n])),
                        ("mnist test vs test, Gaussian blur σ=1", blurred(test[:n]))]:
        (f, p), t_feat = timed(lambda: extract(net, other))
        row = {"n": n, "time_features_s": t_feat}
        row["fid"], row["time_fid_s"] = timed(lambda: fid(ref, f))
        (row["kid_mean"], row["kid_std"]), row["time_kid_s"] = timed(lambda: kid(ref, f))
        (row["is_mean"], row["is_std"]), row["time_is_s"] = timed(lambda: inception_score(p))
        (row["precision"], row["recall"]), row["time_pr_s"] = timed(lambda: precision_recall(ref, f))
        rows[name] = row
    return rows, time.perf_counter() - t_start, t_ref


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2, help="intra-op threads")
    p.add_argument("--data-dir", default=os.environ.get("GENZOO_DATA_DIR"))
    p.add_argument("--weights", default=WEIGHTS)
    p.add_argument("--n", type=int, default=10000, help="images per set")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5, help="timed feature passes (the median is reported)")
    p.add_argument("--no-calibrate", action="store_true", help="feature extraction only")
    p.add_argument("--json")
    a = p.parse_args()
    if not a.data_dir:
        sys.exit("no MNIST: give --data-dir or set GENZOO_DATA_DIR (the folder that holds mnist/*-ubyte.gz)")
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    test = read_idx_images(os.path.join(a.data_dir, "mnist", "t10k-images-idx3-ubyte.gz"))
    train = read_idx_images(os.path.join(a.data_dir, "mnist", "train-images-idx3-ubyte.gz"))
    net = LeNet(a.weights)
    n = min(a.n, len(test))
    for _ in range(a.warmup):
        extract(net, test[:n])
    rates = [n / timed(lambda: extract(net, test[:n]))[1] for _ in range(a.repeats)]
    rate = statistics.median(rates)
    records = [{"what": "features", "n": n, "batch": BATCH, "images_per_sec": rate, "ms_per_image": 1e3 / rate}]
    print(f"features: {rate:.0f} images/s ({1e3 / rate:.3f} ms an image), median of {a.repeats} passes over {n}",
          flush=True)
    if not a.no_calibrate:
        rows, wall, t_ref = calibrate(net, train, test, n)
        records.append({"what": "calibrate", "n": n, "wall_s": wall, "time_reference_features_s": t_ref,
                        "rows": rows})
        print(f"calibrate: {wall:.1f} s", flush=True)
        for name, r in rows.items():
            print(f"  {name}: FID {r['fid']:.2f}, KID {r['kid_mean']:.1f} ± {r['kid_std']:.1f}, "
                  f"IS {r['is_mean']:.2f}, P/R {r['precision']:.3f}/{r['recall']:.3f}; seconds: features "
                  f"{r['time_features_s']:.1f}, fid {r['time_fid_s']:.2f}, kid {r['time_kid_s']:.1f}, "
                  f"pr {r['time_pr_s']:.1f}", flush=True)
    meta = {**cpu_info(), "torch": torch.__version__, "python": platform.python_version(),
            "threads": torch.get_num_threads(),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "date": time.strftime("%Y-%m-%d")}
    print(json.dumps(meta), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"meta": meta, "records": records}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
