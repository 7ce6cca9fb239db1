#!/usr/bin/env python3
"""Early training curve of Burda et al.'s VAEs in PyTorch, as a cross-check of genzoo's.

The one- and two-stochastic-layer networks of `VaeConfig::burda_one_layer()` / `burda_two_layer()`
(tanh, Bernoulli decoder; two layers: x → z ∈ R¹⁰⁰ through 200-200, z → z₂ ∈ R⁵⁰ through 100-100, and
back), the same objective as genzoo's `Vae::nll_parts` (one-sample ELBO; closed-form KL for one layer;
for two, closed-form entropy of q(z|x) and KL of q(z₂|z), sampled log p(z|z₂)), Adam at 1e-3, batch 20,
on the fixed binarized MNIST. Prints the validation −ELBO every 2,500 steps, as `genzoo train` logs it:

    python3 bench/pytorch/burda_vae_curve.py --layers 2 --steps 7500 --data ../shared/datasets/binarized-mnist
"""

import argparse
import gzip
import math
import time

import numpy as np
import torch
from torch import nn

LOG_2PI = math.log(2 * math.pi)


def amat(path):
    with gzip.open(path, "rt") as f:
        return torch.tensor(np.loadtxt(f, dtype=np.float32))


def mlp(n_in, hidden, layers):
    mods = []
    for k in range(layers):
        mods += [nn.Linear(n_in if k == 0 else hidden, hidden), nn.Tanh()]
    return nn.Sequential(*mods)


class Gaussian(nn.Module):
    """A tanh stack and a diagonal Gaussian head (mean, log-variance)."""

    def __init__(self, n_in, hidden, n_out):
        super().__init__()
        self.body = mlp(n_in, hidden, 2)
        self.mean = nn.Linear(hidden, n_out)
        self.logvar = nn.Linear(hidden, n_out)

    def forward(self, x):
        h = self.body(x)
        return self.mean(h), self.logvar(h)


def log_normal(z, mean, logvar):
    return (-0.5 * ((z - mean) ** 2 * torch.exp(-logvar) + logvar + LOG_2PI)).sum(1)


def kl_standard(mean, logvar):
    return 0.5 * (mean**2 + logvar.exp() - 1 - logvar).sum(1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layers", type=int, choices=[1, 2], default=2)
    p.add_argument("--steps", type=int, default=7500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default="../shared/datasets/binarized-mnist")
    args = p.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    train = amat(f"{args.data}/binarized_mnist_train.amat.gz")
    valid = amat(f"{args.data}/binarized_mnist_valid.amat.gz")
    latent = 100 if args.layers == 2 else 50
    enc = Gaussian(784, 200, latent)
    dec = nn.Sequential(mlp(latent, 200, 2), nn.Linear(200, 784))
    mods = [enc, dec]
    if args.layers == 2:
        up, down = Gaussian(latent, 100, 50), Gaussian(50, 100, latent)
        mods += [up, down]
    opt = torch.optim.Adam([q for m in mods for q in m.parameters()], lr=1e-3)

    def nelbo(x):
        mean, logvar = enc(x)
        z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
        recon = nn.functional.binary_cross_entropy_with_logits(dec(z), x, reduction="none").sum(1)
        if args.layers == 1:
            return recon + kl_standard(mean, logvar)
        m2, l2 = up(z)
        z2 = m2 + torch.exp(0.5 * l2) * torch.randn_like(m2)
        pm, pl = down(z2)
        entropy = (0.5 * (logvar + 1 + LOG_2PI)).sum(1)
        return recon - entropy - log_normal(z, pm, pl) + kl_standard(m2, l2)

    start = time.time()
    for step in range(1, args.steps + 1):
        batch = train[torch.randint(0, train.shape[0], (20,))]
        loss = nelbo(batch).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 2500 == 0:
            with torch.no_grad():
                v = nelbo(valid).mean().item()
            print(f"{args.layers} layer(s), step {step}: valid -ELBO {v:.2f} ({time.time() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
