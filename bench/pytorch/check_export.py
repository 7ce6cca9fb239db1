#!/usr/bin/env python3
"""Checks that PyTorch gives genzoo's outputs from genzoo's exported weights.

For each export written by `genzoo export RUN --layout pytorch --out M.safetensors --probe M.probe.safetensors`:

1. builds the PyTorch twin of `reference.py` for the model and configuration in the file's metadata
   (`genzoo.model`, `genzoo.config`) and loads the tensors with `load_state_dict(strict=True)`: every
   parameter name and shape must be the twin's (BatchNorm's `num_batches_tracked`, which genzoo has no
   counterpart for, is the one key added);
2. runs the twin in evaluation mode on the probe's fixed inputs (images, labels, latent codes) and
   compares every output genzoo wrote beside them (codes, reconstructions, posterior parameters, decoder
   outputs, logits, log-likelihoods, generated images, discriminator scores): the largest absolute
   difference must be under --tol (1e-4);
3. with --resave DIR, writes each twin's `state_dict()` with the export's metadata into DIR, which
   `genzoo import` reads back (`scripts/check_export.sh` then compares seeded samples);
4. with --nll EVAL.json --data DIR, for a likelihood model trained on binarized-mnist: the twin's mean test
   NLL over the 10,000 test digits must be genzoo's (`genzoo eval RUN --metrics nll --json > EVAL.json`) to
   --nll-tol nats.

    python3 bench/pytorch/check_export.py OUT/pixelcnn.safetensors OUT/dcgan.safetensors ...
    python3 bench/pytorch/check_export.py OUT/nll.safetensors --nll OUT/nll-eval.json \\
        --data /work/shared/datasets/binarized-mnist

`scripts/check_export.sh` trains one run of every family, exports and checks them. Needs torch, safetensors
and the standard library (tomllib).
"""

import argparse
import gzip
import json
import sys
import tomllib
from pathlib import Path

import torch
import torch.nn as nn
from safetensors import safe_open
from safetensors.torch import load_file, save_file

import reference as ref


def twin(model, cfg):
    """The twin of `model` for its `[model_config]` table `cfg`."""
    if model == "autoencoder":
        assert (cfg["channels"], cfg["image_size"], cfg["hidden"], cfg["latent"]) == (1, 28, [32, 64], 32), cfg
        return ref.Autoencoder()
    if model in ("vae", "vae-conv"):
        conv = cfg["architecture"] == "Conv"
        expected = (1, 28, 256 if conv else 400, 20, 1, "Bernoulli", 0, "Relu")
        found = (cfg["channels"], cfg["image_size"], cfg["hidden"], cfg["latent"], cfg["hidden_layers"],
                 cfg["likelihood"], cfg["num_classes"], cfg["activation"])
        assert found == expected, f"the twin is the MNIST preset: {found}"
        return ref.Vae(conv)
    if model == "pixelcnn":
        assert (cfg["channels"], cfg["levels"], cfg["block_kernel"]) == (1, 2, 3), cfg
        return ref.PixelCnn(cfg["hidden"], cfg["residual_blocks"], cfg["head_hidden"], cfg["first_kernel"])
    if model in ("gated-pixelcnn", "cond-pixelcnn"):
        assert (cfg["channels"], cfg["levels"]) == (1, 2), cfg
        return ref.CondGatedPixelCnn(cfg["hidden"], cfg["layers"], cfg["first_kernel"], cfg["kernel"],
                                     cfg["head_hidden"], cfg["classes"])
    if model in ("row-lstm", "diagonal-bilstm"):
        m = cfg.get("model", cfg)
        assert (m["channels"], m["levels"]) == (1, 2), m
        return ref.PixelRnn(model, m["hidden"], m["layers"], m["first_kernel"], m["row_kernel"], m["head_hidden"])
    if model in ("gan", "dcgan"):
        net = cfg["network"]
        if model == "gan":
            m = net["mlp"]
            assert (m["latent"], m["g_hidden"], m["d_hidden"], m["classes"], m["leak"]) == (
                100, [256, 512], [512, 256], 0, 0.2), m
            return ref.GanNets(*ref.mlp_gan_nets())
        m = net["dcgan"]
        assert m["latent"] == 100 and m.get("classes", 0) == 0, m
        return ref.GanNets(*ref.dcgan_nets())
    raise SystemExit(f"no PyTorch twin of '{model}'")


def load_export(path):
    """The twin of the export at `path` with its weights, in evaluation mode, and the metadata."""
    with safe_open(path, "pt") as f:
        meta = f.metadata()
    if meta.get("genzoo.layout") != "pytorch":
        raise SystemExit(f"{path}: exported with --layout {meta.get('genzoo.layout')}; PyTorch reads --layout pytorch")
    model = meta["genzoo.model"]
    config = tomllib.loads(meta["genzoo.config"])
    net = twin(model, config["model_config"])
    state = load_file(path)
    # PyTorch's BatchNorm counts its batches in a buffer genzoo has no counterpart for.
    for name, module in net.named_modules():
        if isinstance(module, nn.BatchNorm2d):
            state.setdefault(f"{name}.num_batches_tracked", torch.tensor(0))
    net.load_state_dict(state, strict=True)
    return net.eval(), model, meta


def outputs(net, model, probe):
    """The twin's outputs on the probe's inputs, named as genzoo names them."""
    if model == "autoencoder":
        code = net.encode(probe["input"])
        return {"code": code, "reconstruction": net.decode(code)}
    if model in ("vae", "vae-conv"):
        mu, logvar = net.encode(probe["input"])
        return {"mu": mu, "logvar": logvar, "recon_params": net.decode(mu), "decoded": net.decode(probe["z"])}
    if model in ("pixelcnn", "gated-pixelcnn", "cond-pixelcnn", "row-lstm", "diagonal-bilstm"):
        x = probe["input"]
        if model.endswith("pixelcnn") and model != "pixelcnn":
            logits = net.logits(x, probe["labels"].long())
        else:
            logits = net.logits(x)
        return {"logits": logits.unsqueeze(2), "log_prob": -ref.bernoulli_nll(logits, x)}
    if model in ("gan", "dcgan"):
        output = net.generator(probe["z"])
        return {"output": output, "score": net.discriminator(output)}
    raise KeyError(model)


def check_probe(path, tol):
    probe_path = Path(str(path).removesuffix(".safetensors") + ".probe.safetensors")
    net, model, meta = load_export(path)
    probe = load_file(probe_path)
    with torch.no_grad():
        got = outputs(net, model, probe)
    worst = 0.0
    for name, value in got.items():
        expected = probe[name]
        assert value.shape == expected.shape, f"{model} {name}: shape {tuple(value.shape)} vs {tuple(expected.shape)}"
        diff = (value - expected).abs().max().item()
        worst = max(worst, diff)
        print(f"  {model:<16} {name:<15} {tuple(expected.shape)!s:<22} max |torch - genzoo| = {diff:.2e}")
        assert diff < tol, f"{model} {name}: {diff:.3e} >= {tol}"
    print(f"{model}: {sum(p.numel() for p in net.parameters()):,} parameters loaded strictly "
          f"(step {meta.get('genzoo.step')}); largest difference {worst:.2e} < {tol}")
    return model, worst


def resave(path, out_dir):
    """Writes the twin's `state_dict()` (as PyTorch saves a model) with the export's metadata to
    OUT_DIR/<name>, for `genzoo import`: the round trip export -> PyTorch -> state dict -> import."""
    net, _, meta = load_export(path)
    out = Path(out_dir) / Path(path).name
    if out.exists():
        raise SystemExit(f"{out} exists")
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    save_file(state, out, metadata=meta)
    print(f"wrote {out}")


def binarized_test(data_dir):
    """The 10,000 fixed-binarization test digits (Larochelle & Murray) as [N, 1, 28, 28] floats."""
    path = Path(data_dir) / "binarized_mnist_test.amat.gz"
    with gzip.open(path, "rt") as f:
        rows = [[float(v) for v in line.split()] for line in f if line.strip()]
    x = torch.tensor(rows)
    assert x.shape == (10_000, 784), x.shape
    return x.view(-1, 1, 28, 28)


def check_nll(path, eval_json, data_dir, tol):
    net, model, _ = load_export(path)
    assert model in ("pixelcnn", "row-lstm", "diagonal-bilstm"), f"no test NLL check for {model}"
    with open(eval_json) as f:
        evaluated = json.load(f)
    genzoo = evaluated["test_nll_nats"]
    x = binarized_test(data_dir)
    with torch.no_grad():
        total = sum(ref.bernoulli_nll(net.logits(b), b).double().sum().item() for b in x.split(500))
    nll = total / len(x)
    print(f"{model}: test NLL torch {nll:.4f} nats, genzoo eval {genzoo:.4f} nats, difference {abs(nll - genzoo):.2e}")
    assert abs(nll - genzoo) < tol, f"{nll} vs {genzoo}"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("exports", nargs="+", help="files of `genzoo export --layout pytorch` (probe beside each)")
    p.add_argument("--tol", type=float, default=1e-4)
    p.add_argument("--nll", help="`genzoo eval --metrics nll --json` of the (one) export's run")
    p.add_argument("--data", help="the binarized-mnist directory, for --nll")
    p.add_argument("--nll-tol", type=float, default=1e-3)
    p.add_argument("--resave", help="also write each twin's state_dict with the export's metadata into this directory")
    args = p.parse_args()
    torch.manual_seed(0)
    if args.nll:
        if len(args.exports) != 1 or not args.data:
            raise SystemExit("--nll checks one export and needs --data")
        check_nll(args.exports[0], args.nll, args.data, args.nll_tol)
        return
    results = [check_probe(path, args.tol) for path in args.exports]
    print("all agree: " + ", ".join(f"{m} {w:.1e}" for m, w in results))
    for path in args.exports if args.resave else []:
        resave(path, args.resave)


if __name__ == "__main__":
    sys.exit(main())
