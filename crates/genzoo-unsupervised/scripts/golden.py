"""Golden values for genzoo-unsupervised, computed with scikit-learn (numpy + scikit-learn only;
scipy, when installed, cross-checks the KDE values).

Run from the crate directory:  python3 scripts/golden.py  (writes tests/golden.json)
The data are rounded to float32 before fitting so that the Rust side (f32 tensors) sees the same numbers.
Versions used are written into the file.
"""
import json

import numpy as np
import sklearn
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import KernelDensity

rng = np.random.default_rng(20261126)


def f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def blobs(n_per, centres, scale):
    parts = [c + scale * rng.standard_normal((n_per, len(c))) for c in centres]
    return f32(np.concatenate(parts))


out = {"numpy": np.__version__, "sklearn": sklearn.__version__}

# k-means: 4 blobs in 5-D plus uniform noise; initial centres are 4 arbitrary data points.
xk = blobs(40, rng.uniform(-5, 5, size=(4, 5)), 1.5)
init = xk[[3, 50, 51, 120]]
km = KMeans(n_clusters=4, init=init, n_init=1, algorithm="lloyd", max_iter=300, tol=1e-4).fit(xk)
out["kmeans"] = {
    "x": xk.tolist(), "init": init.tolist(), "max_iter": 300, "tol": 1e-4,
    "inertia": float(km.inertia_), "n_iter": int(km.n_iter_), "labels": km.labels_.tolist(),
    "centers": km.cluster_centers_.tolist(),
}

# PCA: 120 points in 6-D with correlated features and an offset.
mix = rng.standard_normal((6, 6)) * np.array([3.0, 2.0, 1.0, 0.5, 0.2, 0.05])[:, None]
xp = f32(rng.standard_normal((120, 6)) @ mix + rng.uniform(-2, 2, size=6))
pca = PCA(n_components=3, svd_solver="full").fit(xp)
pcw = PCA(n_components=3, svd_solver="full", whiten=True).fit(xp)
out["pca"] = {
    "x": xp.tolist(), "n_components": 3,
    "mean": pca.mean_.tolist(),
    "explained_variance": pca.explained_variance_.tolist(),
    "explained_variance_ratio": pca.explained_variance_ratio_.tolist(),
    "components": pca.components_.tolist(),
    "transform": pca.transform(xp[:5]).tolist(),
    "transform_whiten": pcw.transform(xp[:5]).tolist(),
    "inverse_transform": pca.inverse_transform(pca.transform(xp[:5])).tolist(),
}

# Gaussian mixture: 3 anisotropic blobs in 3-D, EM from rough initial parameters.
xg = np.concatenate([
    rng.standard_normal((80, 3)) @ np.array([[1.0, 0.6, 0.0], [0.0, 0.5, 0.3], [0.0, 0.0, 0.8]]) + [0, 0, 0],
    rng.standard_normal((60, 3)) * [0.5, 1.5, 0.7] + [5, 1, -2],
    rng.standard_normal((60, 3)) @ np.array([[0.9, 0.0, 0.0], [-0.5, 0.6, 0.0], [0.2, 0.1, 1.2]]) + [-3, 4, 2],
])
xg = f32(xg)
weights0 = np.array([0.3, 0.3, 0.4])
means0 = np.array([[0.5, 0.5, 0.5], [4.0, 0.0, -1.0], [-2.0, 3.0, 1.0]])
gmm = {"x": xg.tolist(), "weights_init": weights0.tolist(), "means_init": means0.tolist(),
       "max_iter": 100, "tol": 1e-3, "reg_covar": 1e-6}
for cov_type in ["diag", "full"]:
    if cov_type == "diag":
        cov0 = np.array([[1.0, 1.0, 1.0], [2.0, 1.0, 0.5], [1.0, 1.5, 1.0]])
        prec0 = 1.0 / cov0
    else:
        cov0 = np.array([np.eye(3), np.diag([2.0, 1.0, 0.5]), [[1.0, 0.3, 0.0], [0.3, 1.5, 0.2], [0.0, 0.2, 1.0]]])
        prec0 = np.linalg.inv(cov0)
    g = GaussianMixture(n_components=3, covariance_type=cov_type, weights_init=weights0, means_init=means0,
                        precisions_init=prec0, max_iter=100, tol=1e-3, reg_covar=1e-6).fit(xg)
    gmm[cov_type] = {
        "covariances_init": cov0.tolist(),
        "score": float(g.score(xg)), "n_iter": int(g.n_iter_), "converged": bool(g.converged_),
        "weights": g.weights_.tolist(), "means": g.means_.tolist(), "covariances": g.covariances_.tolist(),
        "score_samples": g.score_samples(xg[:5]).tolist(), "bic": float(g.bic(xg)),
    }
out["gmm"] = gmm

# Kernel density: 150 points in 3-D (two blobs), queries near and far from the data, for the Scott and
# Silverman rules and a given bandwidth. The golden log-densities are the defining formula evaluated in
# numpy (max-shifted log-sum-exp, float64). scikit-learn's KernelDensity (tree evaluation, atol = rtol = 0)
# agrees with it to 1e-10 where the density is not tiny, but its tree bounds depart from the formula far
# from the data (e.g. -50.5 instead of -85.3 nats at one query here), so it is checked only where the
# log-density is above -30; its bandwidth rules are taken as they are.
xd = f32(np.concatenate([rng.standard_normal((100, 3)) * [1.0, 0.5, 2.0], rng.standard_normal((50, 3)) + [4, 4, 0]]))
qd = f32(np.concatenate([xd[:5] + 0.1, rng.uniform(-6, 8, size=(5, 3)), [[30.0, -20.0, 10.0]]]))
kde = {"x": xd.tolist(), "queries": qd.tolist()}
for name, bw in [("scott", "scott"), ("silverman", "silverman"), ("given", 0.3)]:
    k = KernelDensity(kernel="gaussian", bandwidth=bw, atol=0, rtol=0).fit(xd)
    ld = k.score_samples(qd)
    # Independent check in numpy: the defining formula with a max-shifted log-sum-exp.
    h = k.bandwidth_
    d2 = ((qd[:, None, :] - xd[None, :, :]) ** 2).sum(-1)
    a = -d2 / (2 * h * h)
    m = a.max(1, keepdims=True)
    ref = (m[:, 0] + np.log(np.exp(a - m).sum(1))) - np.log(len(xd)) - 1.5 * np.log(2 * np.pi * h * h)
    near = ref > -30
    assert near.sum() >= 6 and np.allclose(ld[near], ref[near], rtol=1e-10, atol=1e-8), (ld, ref)
    kde[name] = {"bandwidth": float(h), "log_density": ref.tolist(), "sklearn_log_density": ld.tolist()}
try:
    from scipy.stats import gaussian_kde
    # scipy's kernel covariance is factor² × data covariance; with bw_method = h / std on 1-D data it is h².
    x1 = xd[:, 0]
    g = gaussian_kde(x1, bw_method=0.3 / x1.std(ddof=1))
    d2 = (qd[:10, 0, None] - x1[None, :]) ** 2
    a = -d2 / (2 * 0.09)
    m = a.max(1, keepdims=True)
    ref1 = m[:, 0] + np.log(np.exp(a - m).sum(1)) - np.log(len(x1)) - 0.5 * np.log(2 * np.pi * 0.09)
    assert np.allclose(g.logpdf(qd[:10, 0]), ref1, rtol=1e-8)
    out["scipy"] = __import__("scipy").__version__
except ImportError:
    pass
out["kde"] = kde

with open("tests/golden.json", "w") as f:
    json.dump(out, f)
print({k: (v["inertia"] if k == "kmeans" else None) for k, v in out.items() if isinstance(v, dict)})
print("gmm", gmm["diag"]["score"], gmm["diag"]["n_iter"], gmm["full"]["score"], gmm["full"]["n_iter"])
print("pca ratio", out["pca"]["explained_variance_ratio"])
print("kde", {k: kde[k]["bandwidth"] for k in ["scott", "silverman", "given"]}, kde["scott"]["log_density"][-1])
