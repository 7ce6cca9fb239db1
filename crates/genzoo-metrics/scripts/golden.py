#!/usr/bin/env python3
"""Golden values for genzoo-metrics' sample-quality metrics, computed the reference way.

- FID as pytorch-fid computes it (`calculate_frechet_distance`): np.cov with rowvar=False (n - 1),
  scipy.linalg.sqrtm of sigma1 @ sigma2, real part, trace.
- KID as torch-fidelity: unbiased MMD^2 with the polynomial kernel (x.y / d + 1)^3, on given subsets.
- Inception score as torch-fidelity: consecutive splits, exp(mean KL(p(y|x) || p(y))), np.std (ddof=0).
- Improved precision/recall (Kynkaenniemi et al. 2019) by brute force: radius = distance to the k-th
  nearest other sample of the same set.

Run: python3 crates/genzoo-metrics/scripts/golden.py > crates/genzoo-metrics/tests/golden.json
(numpy + scipy; the seed is fixed, so the output is reproducible).
"""
import json

import numpy as np
from scipy import linalg

rng = np.random.default_rng(20261126)


def frechet(mu1, s1, mu2, s2):
    diff = mu1 - mu2
    covmean = linalg.sqrtm(s1.dot(s2))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def stats(x):
    return x.mean(axis=0), np.cov(x, rowvar=False)


def fid_case(name, x, y, eps=0.0):
    mu1, s1 = stats(x)
    mu2, s2 = stats(y)
    d = x.shape[1]
    s1 = s1 + eps * np.eye(d)
    s2 = s2 + eps * np.eye(d)
    return {"name": name, "x": x.tolist(), "y": y.tolist(), "eps": eps, "fid": frechet(mu1, s1, mu2, s2)}


def correlated(n, d, scale, shift):
    a = rng.normal(size=(d, d)) * scale / np.sqrt(d)
    return rng.normal(size=(n, d)) @ a + shift


def mmd2_unbiased(x, y):
    d = x.shape[1]
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    m = x.shape[0]
    return float(
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
        + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        - 2 * kxy.sum() / (m * m)
    )


def inception_score(p, splits):
    n = p.shape[0]
    scores = []
    for k in range(splits):
        part = p[k * n // splits:(k + 1) * n // splits]
        py = part.mean(axis=0, keepdims=True)
        kl = (part * (np.log(part) - np.log(py))).sum(axis=1).mean()
        scores.append(np.exp(kl))
    return float(np.mean(scores)), float(np.std(scores))


def knn_radii(x, k):
    d = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    return np.sort(d, axis=1)[:, k]  # column 0 is the point itself


def precision_recall(real, fake, k):
    rr = knn_radii(real, k)
    fr = knn_radii(fake, k)
    d = np.sqrt(((fake[:, None, :] - real[None, :, :]) ** 2).sum(-1))  # [fake, real]
    precision = float((d <= rr[None, :]).any(axis=1).mean())
    recall = float((d.T <= fr[None, :]).any(axis=1).mean())
    return precision, recall


fid = [
    fid_case("correlated-8d", correlated(300, 8, 2.0, 0.0), correlated(250, 8, 1.5, 0.7)),
    fid_case("scaled-16d", correlated(200, 16, 10.0, 3.0), correlated(200, 16, 9.0, -1.0)),
    fid_case("close-32d", *(lambda base: (base[:150], base[150:] + 0.01))(correlated(300, 32, 1.0, 0.0))),
]
# Fewer samples than dimensions: both covariances singular; pytorch-fid's fallback adds eps*I.
fid.append(fid_case("singular-24d-n10", correlated(10, 24, 1.0, 0.0), correlated(12, 24, 1.0, 0.5), eps=1e-6))

x = correlated(120, 6, 1.5, 0.0)
y = correlated(140, 6, 1.5, 0.3)
subsets = [(rng.choice(120, 50, replace=False).tolist(), rng.choice(140, 50, replace=False).tolist()) for _ in range(4)]
mmds = [mmd2_unbiased(x[np.array(i)], y[np.array(j)]) for i, j in subsets]
kid = {
    "x": x.tolist(),
    "y": y.tolist(),
    "subsets": [{"x": i, "y": j} for i, j in subsets],
    "mmd2": mmds,
    "mean": float(np.mean(mmds)),
    "std": float(np.std(mmds)),
}

probs = rng.dirichlet(np.full(10, 0.3), size=200)
is_mean, is_std = inception_score(probs, 10)

real = rng.normal(size=(60, 4))
fake = rng.normal(size=(50, 4)) * 1.3 + 0.4
precision, recall = precision_recall(real, fake, 3)

# 12 significant digits: far more than the 1e-6 relative the tests ask for, and a smaller file.
print(json.dumps(json.loads(json.dumps({
    "fid": fid,
    "kid": kid,
    "inception_score": {"probs": probs.tolist(), "splits": 10, "mean": is_mean, "std": is_std},
    "precision_recall": {"real": real.tolist(), "fake": fake.tolist(), "k": 3,
                          "precision": precision, "recall": recall},
}), parse_float=lambda s: float(f"{float(s):.12g}"))))
