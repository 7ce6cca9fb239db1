#!/usr/bin/env python3
"""Checks that the PyTorch twins of `reference.py` are genzoo's networks (cond-pixelcnn, row-lstm,
diagonal-bilstm):

1. parameter counts: the twin's against genzoo's (`num_params`, asserted in genzoo-pixel's tests for the
   PixelRNN presets and counted from the layer shapes in docs) and, given a `genzoo export --layout pytorch`
   file, its tensors loaded with `load_state_dict(strict=True)` (every name and shape the twin's);
2. given an export of a trained run, the twin's NLL of real MNIST test digits must be near the run's test NLL
   (`--run-nll`, summary.json's `test_nll_nats`): any wiring difference (gate order, padding, the vertical
   stack's shift, the skew, the right-to-left shift) would turn a trained network's ~90 nats into hundreds
   (`check_export.py` compares outputs on fixed inputs to 1e-4 and the exact test NLL);
3. on random weights: causality (the logit of a pixel depends on no later pixel, and on every earlier one
   where genzoo's model does), output shapes, a finite loss that decreases over a few Adam steps on a fixed
   batch.

    python3 bench/pytorch/check_twins.py                                  # 1 (counts) and 3
    genzoo export RUN --layout pytorch --out cond.safetensors
    python3 bench/pytorch/check_twins.py --export cond-pixelcnn=cond.safetensors --run-nll cond-pixelcnn=NATS \\
        --data /work/shared/datasets/mnist --images 64                    # 1, 2 and 3

Needs torch and safetensors.
"""

import argparse
import gzip
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

import reference as ref
from check_export import load_export

# genzoo's own counts: genzoo-pixel `presets_match_the_paper_and_have_the_right_shapes` asserts the PixelRNN
# ones; the Gated PixelCNN's is counted from `GatedPixelCnnConfig::init` (and checked against a checkpoint).
GENZOO_PARAMS = {"cond-pixelcnn": 911_361, "row-lstm": 71_457, "diagonal-bilstm": 65_185}


def build(model):
    return ref.CondGatedPixelCnn() if model == "cond-pixelcnn" else ref.PixelRnn(model)


def load_mnist_test(data_dir, n, seed=0):
    """The first `n` test images, binarized by Bernoulli(intensity) with a fixed seed, and their labels."""
    with gzip.open(Path(data_dir) / "t10k-images-idx3-ubyte.gz") as f:
        x = torch.frombuffer(bytearray(f.read()[16:16 + n * 784]), dtype=torch.uint8)
    with gzip.open(Path(data_dir) / "t10k-labels-idx1-ubyte.gz") as f:
        y = torch.frombuffer(bytearray(f.read()[8:8 + n]), dtype=torch.uint8)
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, 1, 28, 28, generator=gen) < x.float().view(n, 1, 28, 28) / 255).float()
    return x, y.long()


def nll(net, model, x, y):
    with torch.no_grad():
        return net(x, y).item() if model == "cond-pixelcnn" else net(x).item()


# --- checks -------------------------------------------------------------------------------------------

def check_counts(model):
    net = build(model)
    n = sum(p.numel() for p in net.parameters())
    ok = n == GENZOO_PARAMS[model]
    print(f"{model}: parameters twin {n:,} genzoo {GENZOO_PARAMS[model]:,} {'OK' if ok else 'MISMATCH'}")
    return ok


def check_export(model, path, data_dir, images, want):
    """A `genzoo export --layout pytorch` file of `model`, loaded strictly into the twin; with `data_dir`, the
    twin's NLL of real test digits against the run's test NLL `want` (nats; `summary.json`'s
    `test_nll_nats`), if given."""
    net, exported, _ = load_export(path)
    if exported != model:
        print(f"{model}: {path} holds '{exported}' weights")
        return False
    total = sum(p.numel() for p in net.parameters())
    ok = total == GENZOO_PARAMS[model]
    print(f"{model}: export {path} loaded strictly: {total:,} parameters {'OK' if ok else 'MISMATCH'}")
    if data_dir:
        x, y = load_mnist_test(data_dir, images)
        got = nll(net, model, x, y)
        fresh = nll(build(model), model, x, y)
        # The run's test NLL is over its test set and binarization; a sample of `images` digits differs
        # from it by a few nats, while a miswired twin (or random weights) is off by hundreds.
        # Measured: wrong class labels cost the trained cond-pixelcnn 14 nats, swapping two gate blocks of one
        # Row LSTM kernel 11, dropping the Diagonal BiLSTM's right-to-left pixel input 337.
        close = want is None or abs(got - want) < 0.08 * want
        print(f"{model}: twin NLL of {images} MNIST test digits with genzoo's trained weights: {got:.2f} nats "
              f"(run's test NLL {want}; random weights {fresh:.1f}) {'OK' if close else 'MISMATCH'}")
        ok = ok and close
    return ok


def check_training(model, batch=4, steps=5):
    torch.manual_seed(0)
    net = build(model)
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(batch, 1, 28, 28, generator=gen) < 0.13).float()
    y = torch.randint(0, 10, (batch,), generator=gen)
    logits = net.logits(x, y) if model == "cond-pixelcnn" else net.logits(x)
    shape_ok = tuple(logits.shape) == (batch, 1, 28, 28)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    losses = []
    for _ in range(steps):
        loss = net(x, y) if model == "cond-pixelcnn" else net(x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    finite = all(torch.isfinite(torch.tensor(losses)))
    down = losses[-1] < losses[0]
    print(f"{model}: logits {tuple(logits.shape)}; losses over {steps} steps on a fixed batch of {batch}: "
          f"{', '.join(f'{v:.1f}' for v in losses)} {'OK' if shape_ok and finite and down else 'FAIL'}")
    return shape_ok and finite and down


def check_causal(model, size=7, py=4, px=3):
    """Which input pixels the logit of (py, px) depends on (|d logit / d x| > 0, random weights, on a small
    image as genzoo's receptive-field test uses: the networks are fully convolutional, and 10 gated layers
    reach 12 pixels, not 28): never (py, px) or a later pixel; every earlier one for the Gated PixelCNN (no
    blind spot) and the Diagonal BiLSTM (whole context); the Row LSTM sees a triangle above (not asserted)."""
    torch.manual_seed(0)
    net = build(model)
    x = torch.rand(1, 1, size, size, requires_grad=True)
    y = torch.tensor([3])
    logits = net.logits(x, y) if model == "cond-pixelcnn" else net.logits(x)
    logits[0, 0, py, px].backward()
    seen = (x.grad.flatten() != 0).tolist()
    p = py * size + px
    future = [q for q in range(p, size * size) if seen[q]]
    blind = [q for q in range(p) if not seen[q]] if model != "row-lstm" else []
    ok = not future and not blind
    print(f"{model}: on {size}x{size}, logit ({py}, {px}) sees {sum(seen)} of the {p} earlier pixels; later "
          f"pixels seen {future or 'none'}; earlier pixels missed {blind or 'none'} {'OK' if ok else 'FAIL'}")
    return ok


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default="cond-pixelcnn,row-lstm,diagonal-bilstm")
    p.add_argument("--export", action="append", default=[],
                   help="MODEL=PATH of a `genzoo export --layout pytorch` file")
    p.add_argument("--run-nll", action="append", default=[], help="MODEL=NATS: the run's test NLL")
    p.add_argument("--data", help="directory of MNIST's t10k-*-ubyte.gz (for the trained-weights NLL)")
    p.add_argument("--images", type=int, default=64)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-train", action="store_true", help="skip the random-weights checks (3)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    exports = dict(c.split("=", 1) for c in a.export)
    wants = {m: float(v) for m, v in (c.split("=", 1) for c in a.run_nll)}
    ok = True
    for model in a.only.split(","):
        ok &= check_counts(model)
        if model in exports:
            ok &= check_export(model, exports[model], a.data, a.images, wants.get(model))
        if not a.no_train:
            ok &= check_causal(model)
            ok &= check_training(model)
    print("all OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
