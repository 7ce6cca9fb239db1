"""Reference numbers on full MNIST for tests/mnist.rs (numpy + scikit-learn only).

Usage: python3 scripts/mnist_reference.py /path/to/mnist/train-images-idx3-ubyte.gz   (writes tests/mnist_reference.json)
Pixels are scaled to [0, 1] as float32, as genzoo does.
"""
import gzip
import json
import sys

import numpy as np
import sklearn
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA

with gzip.open(sys.argv[1]) as f:
    raw = f.read()
x = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(-1, 784).astype(np.float32) / np.float32(255.0)
x = x.astype(np.float64)

pca = PCA(n_components=50, svd_solver="full").fit(x)
init = x[:10]
km = KMeans(n_clusters=10, init=init, n_init=1, algorithm="lloyd", max_iter=20, tol=1e-4).fit(x)
out = {
    "sklearn": sklearn.__version__,
    "pca50_explained_variance_ratio": pca.explained_variance_ratio_.tolist(),
    "kmeans_init_rows": 10, "kmeans_max_iter": 20, "kmeans_tol": 1e-4,
    "kmeans_inertia": float(km.inertia_), "kmeans_n_iter": int(km.n_iter_),
}
with open("tests/mnist_reference.json", "w") as f:
    json.dump(out, f, indent=1)
print(out["pca50_explained_variance_ratio"][:3], sum(out["pca50_explained_variance_ratio"]), out["kmeans_inertia"], out["kmeans_n_iter"])
