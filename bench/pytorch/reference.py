#!/usr/bin/env python3
"""PyTorch reference for `genzoo bench`: the same presets, the same training steps, the same timing.

Each preset is the PyTorch twin of genzoo's (same layers, shapes, losses, optimiser and batch size), written
the way a PyTorch user would write it (pytorch/examples, pytorch-generative, PyTorch-GAN). A training step is
timed after warm-up; the rate reported is the median over repeats of (images in `steps` steps) / seconds,
exactly like `genzoo bench`. Data are random binarized or [-1, 1] images of MNIST's shape: the values do not
change the work.

    python3 bench/pytorch/reference.py --threads 2 --json torch-cpu.json        # CPU, 2 threads
    python3 bench/pytorch/reference.py --device cuda --json torch-cuda.json     # a GPU

Compare with `genzoo bench --threads 2 --json genzoo.json` on the same machine (`taskset -c 0,1` for both
pins them to the same two cores). `docs/performance.md` has the table and how it was made.
"""

import argparse
import json
import platform
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

def conv_macs(out_hw, k, c_in, c_out):
    return out_hw * k * k * c_in * c_out


def forward_macs(model):
    """Multiply-adds of one image's forward pass (or of one D+G step pair for the GANs)."""
    if model == "autoencoder":
        return (conv_macs(14 * 14, 3, 1, 32) + conv_macs(7 * 7, 3, 32, 64) + 2 * 3136 * 32
                + 7 * 7 * 64 * 32 * 16 + 14 * 14 * 32 * 1 * 16)
    if model == "vae":
        return 784 * 400 + 400 * 40 + 20 * 400 + 400 * 784
    if model == "vae-conv":
        return (conv_macs(14 * 14, 3, 1, 32) + conv_macs(7 * 7, 3, 32, 64) + 3136 * 256 + 256 * 40
                + 20 * 256 + 256 * 3136 + 7 * 7 * 64 * 32 * 16 + 14 * 14 * 32 * 1 * 16)
    if model == "pixelcnn":
        block = conv_macs(784, 1, 128, 64) + conv_macs(784, 3, 64, 64) + conv_macs(784, 1, 64, 128)
        return conv_macs(784, 7, 1, 128) + 7 * block + conv_macs(784, 1, 128, 128) + conv_macs(784, 1, 128, 1)
    raise KeyError(model)


def gan_step_macs(g, d):
    # D step: G forward (detached) + D forward and backward on a real and a fake batch;
    # G step: G and D forward and backward.
    return g + 2 * 3 * d + 3 * (g + d)


def gflop_per_step(model, batch):
    """Analytic training GFLOP per step (multiply-add = 2 FLOP, backward = 2x forward): the same formulas as
    `flops_per_step` in crates/genzoo-cli/src/bench.rs, derived in docs/performance.md."""
    if model == "dcgan":
        g = 100 * 6272 + 7 * 7 * 128 * 64 * 16 + 14 * 14 * 64 * 1 * 16
        d = conv_macs(14 * 14, 4, 1, 64) + conv_macs(7 * 7, 4, 64, 128) + 6272
        macs = gan_step_macs(g, d)
    elif model == "gan":
        g = 100 * 256 + 256 * 512 + 512 * 784
        d = 784 * 512 + 512 * 256 + 256
        macs = gan_step_macs(g, d)
    else:
        macs = 3 * forward_macs(model)
    return 2 * macs * batch / 1e9


class Autoencoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc1 = nn.Conv2d(1, 32, 3, 2, 1)
        self.enc2 = nn.Conv2d(32, 64, 3, 2, 1)
        self.enc_fc = nn.Linear(64 * 7 * 7, 32)
        self.dec_fc = nn.Linear(32, 64 * 7 * 7)
        self.dec1 = nn.ConvTranspose2d(64, 32, 4, 2, 1)
        self.dec2 = nn.ConvTranspose2d(32, 1, 4, 2, 1)

    def forward(self, x):
        h = F.relu(self.enc2(F.relu(self.enc1(x))))
        z = self.enc_fc(h.flatten(1))
        h = F.relu(self.dec_fc(z)).view(-1, 64, 7, 7)
        return torch.sigmoid(self.dec2(F.relu(self.dec1(h))))


class Vae(nn.Module):
    """pytorch/examples' VAE (mlp) and genzoo's conv VAE; Bernoulli decoder from logits."""

    def __init__(self, conv):
        super().__init__()
        self.conv = conv
        hidden = 256 if conv else 400
        feat = 64 * 7 * 7 if conv else 784
        if conv:
            self.enc_convs = nn.ModuleList([nn.Conv2d(1, 32, 3, 2, 1), nn.Conv2d(32, 64, 3, 2, 1)])
            self.dec_deconvs = nn.ModuleList([nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ConvTranspose2d(32, 1, 4, 2, 1)])
        self.enc_fc = nn.Linear(feat, hidden)
        self.enc_mean = nn.Linear(hidden, 20)
        self.enc_logvar = nn.Linear(hidden, 20)
        self.dec_fc = nn.Linear(20, hidden)
        self.dec_out = nn.Linear(hidden, feat)

    def forward(self, x):
        h = x
        if self.conv:
            for c in self.enc_convs:
                h = F.relu(c(h))
        h = F.relu(self.enc_fc(h.flatten(1)))
        mu, logvar = self.enc_mean(h), self.enc_logvar(h)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        h = self.dec_out(F.relu(self.dec_fc(z)))
        if self.conv:
            h = F.relu(h).view(-1, 64, 7, 7)
            h = self.dec_deconvs[1](F.relu(self.dec_deconvs[0](h)))
        logits = h.view_as(x)
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        kl = -0.5 * (1 + logvar - mu.square() - logvar.exp()).sum(1)
        return (recon + kl).mean()


class MaskedConv2d(nn.Conv2d):
    """Mask A/B convolution, the mask multiplied into the weight in forward (pytorch-generative's way)."""

    def __init__(self, c_in, c_out, k, mask_type):
        super().__init__(c_in, c_out, k, padding=k // 2)
        mask = torch.ones(k, k)
        mask[k // 2, k // 2 + (mask_type == "B"):] = 0
        mask[k // 2 + 1:] = 0
        self.register_buffer("mask", mask[None, None])

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class PixelCnn(nn.Module):
    """`PixelCnnConfig::mnist()`: 7x7 mask-A 1->128, 7 residual blocks, two 1x1 mask-B heads."""

    def __init__(self, h2=128, blocks=7, head=128):
        super().__init__()
        h = h2 // 2
        self.input = MaskedConv2d(1, h2, 7, "A")
        self.blocks = nn.ModuleList(
            nn.ModuleList([MaskedConv2d(h2, h, 1, "B"), MaskedConv2d(h, h, 3, "B"), MaskedConv2d(h, h2, 1, "B")])
            for _ in range(blocks))
        self.head = MaskedConv2d(h2, head, 1, "B")
        self.out = MaskedConv2d(head, 1, 1, "B")

    def forward(self, x):
        y = self.input(x * 2 - 1)
        for down, conv, up in self.blocks:
            y = y + up(F.relu(conv(F.relu(down(F.relu(y))))))
        logits = self.out(F.relu(self.head(F.relu(y))))
        return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1).mean()


def dcgan_nets():
    g = nn.Sequential(
        nn.Linear(100, 128 * 7 * 7), nn.Unflatten(1, (128, 7, 7)), nn.BatchNorm2d(128), nn.ReLU(),
        nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh())
    d = nn.Sequential(
        nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(64, 128, 4, 2, 1), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(128 * 7 * 7, 1))
    for m in list(g.modules()) + list(d.modules()):
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
    return g, d


def mlp_gan_nets():
    g = nn.Sequential(nn.Linear(100, 256), nn.LeakyReLU(0.2), nn.Linear(256, 512), nn.LeakyReLU(0.2),
                      nn.Linear(512, 784), nn.Tanh(), nn.Unflatten(1, (1, 28, 28)))
    d = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.LeakyReLU(0.2), nn.Linear(512, 256),
                      nn.LeakyReLU(0.2), nn.Linear(256, 1))
    return g, d


def make_step(model, batch, device):
    """Returns `step()` running one training step of the preset on a fixed random batch."""
    gen = torch.Generator(device="cpu").manual_seed(0)
    binary = (torch.rand(batch, 1, 28, 28, generator=gen) < 0.13).float().to(device)
    if model in ("dcgan", "gan"):
        g, d = (dcgan_nets() if model == "dcgan" else mlp_gan_nets())
        g, d = g.to(device), d.to(device)
        opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
        real = binary * 2 - 1
        ones = torch.ones(batch, 1, device=device)
        zeros = torch.zeros(batch, 1, device=device)

        def step():
            fake = g(torch.randn(batch, 100, device=device)).detach()
            loss_d = (F.binary_cross_entropy_with_logits(d(real), ones)
                      + F.binary_cross_entropy_with_logits(d(fake), zeros))
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            loss_g = F.binary_cross_entropy_with_logits(d(g(torch.randn(batch, 100, device=device))), ones)
            opt_g.zero_grad(set_to_none=True)
            opt_d.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
        return step

    if model == "autoencoder":
        net = Autoencoder()
        x = torch.rand(batch, 1, 28, 28, generator=gen).to(device)
        loss_fn = lambda: F.mse_loss(net(x), x)  # noqa: E731
    elif model in ("vae", "vae-conv"):
        net = Vae(conv=model == "vae-conv")
        loss_fn = lambda: net(binary)  # noqa: E731
    elif model == "pixelcnn":
        net = PixelCnn()
        loss_fn = lambda: net(binary)  # noqa: E731
    else:
        raise KeyError(model)
    net.to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def step():
        loss = loss_fn()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


PRESETS = [("autoencoder", 64), ("vae", 128), ("vae-conv", 128), ("pixelcnn", 64), ("dcgan", 64), ("gan", 64)]


def measure(model, batch, device, warmup, repeats, steps):
    step = make_step(model, batch, device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        step()
    sync()
    rates, step_s = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        dt = time.perf_counter() - t0
        rates.append(batch * steps / dt)
        step_s.append(dt / steps)
    rec = {
        "model": model,
        "backend": f"pytorch-{device.type}",
        "batch_size": batch,
        "train_images_per_sec": statistics.median(rates),
        "train_step_s": statistics.median(step_s),
        "gflop_per_step": gflop_per_step(model, batch),
    }
    rec["gflop_per_sec"] = rec["gflop_per_step"] / rec["train_step_s"]
    if device.type == "cuda":
        rec["peak_gpu_mib"] = torch.cuda.max_memory_allocated() / 2**20
        torch.cuda.reset_peak_memory_stats()
    return rec


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", help="comma-separated presets (default: all)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=2, help="intra-op threads on the CPU")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--json")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)
    device = torch.device(a.device)
    only = set(a.only.split(",")) if a.only else None
    records = []
    print(f"{'model':<12} {'batch':>6} {'train img/s':>12} {'step s':>10} {'GFLOP/s':>9}", flush=True)
    for model, batch in PRESETS:
        if only and model not in only:
            continue
        rec = measure(model, batch, device, a.warmup, a.repeats, a.steps)
        records.append(rec)
        print(f"{model:<12} {batch:>6} {rec['train_images_per_sec']:>12.1f} {rec['train_step_s']:>10.4f} "
              f"{rec['gflop_per_sec']:>9.1f}", flush=True)
    meta = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "device": torch.cuda.get_device_name() if device.type == "cuda" else platform.processor() or platform.machine(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "date": time.strftime("%Y-%m-%d"),
    }
    print(json.dumps(meta), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"meta": meta, "records": records}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
