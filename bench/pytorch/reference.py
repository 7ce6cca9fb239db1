#!/usr/bin/env python3
"""PyTorch reference for `genzoo bench`: the same presets, the same training steps, the same timing.

Each preset is the PyTorch twin of genzoo's (same layers, shapes, losses, optimiser and batch size), written
the way a PyTorch user would write it (pytorch/examples, pytorch-generative, PyTorch-GAN). A training step is
timed after warm-up; the rate reported is the median over repeats of (images in `steps` steps) / seconds,
exactly like `genzoo bench`. Data are random binarized or [-1, 1] images of MNIST's shape (and random class
labels for cond-pixelcnn): the values do not change the work. The PixelRNN presets have no FLOP count (nor in
genzoo), so their records have no gflop_per_step / gflop_per_sec. `check_twins.py` checks the autoregressive
twins against genzoo (parameter counts, genzoo's trained weights loaded into the twin, causality); the twins carry
genzoo's parameter names, so `check_export.py` loads `genzoo export --layout pytorch` files into them strictly and
compares their outputs with genzoo's.

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
    if model == "cond-pixelcnn":
        # GatedPixelCnnConfig::mnist_conditional(): per layer the vertical [k/2+1, k] and the horizontal
        # [1, k/2+1] (kept taps) convolutions to both gates (2p), the 1x1 links 2p -> 2p and the 1x1
        # horizontal output p -> p; head 64 -> 128 -> 1.
        p = 64

        def layer(c_in, k):
            return (784 * (k // 2 + 1) * k * c_in * 2 * p + 784 * (k // 2 + 1) * c_in * 2 * p
                    + 784 * 4 * p * p + 784 * p * p)
        return layer(1, 7) + 9 * layer(p, 3) + 784 * (p * 128 + 128)
    raise KeyError(model)


def gan_step_macs(g, d):
    # D step: G forward (detached) + D forward and backward on a real and a fake batch;
    # G step: G and D forward and backward.
    return g + 2 * 3 * d + 3 * (g + d)


def gflop_per_step(model, batch):
    """Analytic training GFLOP per step (multiply-add = 2 FLOP, backward = 2x forward): the same formulas as
    each genzoo config's `train_flop_per_image` (genzoo-vae, genzoo-pixel, genzoo-gan train modules), derived in
    docs/performance.md. `None` where genzoo
    has no count either (the PixelRNN presets)."""
    if model in ("row-lstm", "diagonal-bilstm"):
        return None
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
    """`AutoencoderConfig::mnist()`; `encode` and `decode` as genzoo's `Autoencoder`."""

    def __init__(self):
        super().__init__()
        self.enc1 = nn.Conv2d(1, 32, 3, 2, 1)
        self.enc2 = nn.Conv2d(32, 64, 3, 2, 1)
        self.enc_fc = nn.Linear(64 * 7 * 7, 32)
        self.dec_fc = nn.Linear(32, 64 * 7 * 7)
        self.dec1 = nn.ConvTranspose2d(64, 32, 4, 2, 1)
        self.dec2 = nn.ConvTranspose2d(32, 1, 4, 2, 1)

    def encode(self, x):
        return self.enc_fc(F.relu(self.enc2(F.relu(self.enc1(x)))).flatten(1))

    def decode(self, z):
        h = F.relu(self.dec_fc(z)).view(-1, 64, 7, 7)
        return torch.sigmoid(self.dec2(F.relu(self.dec1(h))))

    def forward(self, x):
        return self.decode(self.encode(x))


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

    def encode(self, x):
        """The posterior's mean and log-variance."""
        h = x
        if self.conv:
            for c in self.enc_convs:
                h = F.relu(c(h))
        h = F.relu(self.enc_fc(h.flatten(1)))
        return self.enc_mean(h), self.enc_logvar(h)

    def decode(self, z):
        """Bernoulli logits [B, 1, 28, 28]."""
        h = self.dec_out(F.relu(self.dec_fc(z)))
        if self.conv:
            h = F.relu(h).view(-1, 64, 7, 7)
            h = self.dec_deconvs[1](F.relu(self.dec_deconvs[0](h)))
        return h.view(-1, 1, 28, 28)

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        logits = self.decode(z)
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        kl = -0.5 * (1 + logvar - mu.square() - logvar.exp()).sum(1)
        return (recon + kl).mean()


class MaskedConv2d(nn.Conv2d):
    """Mask A/B convolution, the mask multiplied into the weight in forward (pytorch-generative's way).
    `k` is a side or a (height, width) pair, both odd; "same" padding. The mask is a constant, not part of
    the state dict (genzoo does not save it either)."""

    def __init__(self, c_in, c_out, k, mask_type, bias=True):
        kh, kw = (k, k) if isinstance(k, int) else k
        super().__init__(c_in, c_out, (kh, kw), padding=(kh // 2, kw // 2), bias=bias)
        mask = torch.ones(kh, kw)
        mask[kh // 2, kw // 2 + (mask_type == "B"):] = 0
        mask[kh // 2 + 1:] = 0
        self.register_buffer("mask", mask[None, None], persistent=False)

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class Masked(nn.Module):
    """genzoo_layers::MaskedConv2d: a masked convolution held as `conv`, so its parameters are named
    `<layer>.conv.weight` / `.conv.bias` as in genzoo's export."""

    def __init__(self, c_in, c_out, k, mask_type, bias=True):
        super().__init__()
        self.conv = MaskedConv2d(c_in, c_out, k, mask_type, bias)

    def forward(self, x):
        return self.conv(x)


def bernoulli_nll(logits, x):
    """−log p(x) per image in nats from Bernoulli logits."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


class ResidualBlock(nn.Module):
    """PixelCNN's residual block: 1x1 h2 -> h, 3x3 h -> h, 1x1 h -> h2, all mask B, ReLU before each."""

    def __init__(self, h2, h):
        super().__init__()
        self.down = Masked(h2, h, 1, "B")
        self.conv = Masked(h, h, 3, "B")
        self.up = Masked(h, h2, 1, "B")

    def forward(self, y):
        return y + self.up(F.relu(self.conv(F.relu(self.down(F.relu(y))))))


class PixelCnn(nn.Module):
    """`PixelCnnConfig::mnist()`: 7x7 mask-A 1->128, 7 residual blocks, two 1x1 mask-B heads."""

    def __init__(self, h2=128, blocks=7, head=128, first_kernel=7, block_kernel=3):
        super().__init__()
        self.input = Masked(1, h2, first_kernel, "A")
        self.blocks = nn.ModuleList(ResidualBlock(h2, h2 // 2) for _ in range(blocks))
        self.head = Masked(h2, head, 1, "B")
        self.out = Masked(head, 1, 1, "B")
        assert block_kernel == 3

    def logits(self, x):
        y = self.input(x * 2 - 1)
        for block in self.blocks:
            y = block(y)
        return self.out(F.relu(self.head(F.relu(y))))

    def forward(self, x):
        return bernoulli_nll(self.logits(x), x).mean()


class GatedLayer(nn.Module):
    """One layer of the Gated PixelCNN (van den Oord et al. 2016, arXiv:1606.05328) with genzoo's parameters:
    each gate pair (f, g) of each stack is two convolutions, run here as one over the concatenated weights
    as genzoo's `pair_conv2d` does."""

    def __init__(self, c_in, p, k, mask_type, classes, residual):
        super().__init__()
        self.p, self.k, self.residual = p, k, residual
        # Vertical stack: a (k/2 + 1) x k kernel, padded k/2 on top, 0 below, k/2 left and right, so row y
        # sees rows y - k/2 ..= y.
        self.v_f = nn.Conv2d(c_in, p, (k // 2 + 1, k))
        self.v_g = nn.Conv2d(c_in, p, (k // 2 + 1, k))
        self.h_f = Masked(c_in, p, (1, k), mask_type)
        self.h_g = Masked(c_in, p, (1, k), mask_type)
        self.link_f = nn.Conv2d(2 * p, p, 1)
        self.link_g = nn.Conv2d(2 * p, p, 1)
        self.h_out = Masked(p, p, 1, "B")  # 1x1 mask B on one colour group: nothing masked
        # One-hot class -> the terms of v_f, v_g, h_f, h_g; absent without classes, as in genzoo.
        self.cond = nn.Linear(classes, 4 * p, bias=False) if classes else None

    @staticmethod
    def pair(a, b, x, **kw):
        return F.conv2d(x, torch.cat([a.weight, b.weight]), torch.cat([a.bias, b.bias]), **kw)

    def forward(self, v, h, onehot):
        p, k = self.p, self.k
        vfg = self.pair(self.v_f, self.v_g, F.pad(v, (k // 2, k // 2, k // 2, 0)))
        down = F.pad(vfg[:, :, :-1], (0, 0, 1, 0))  # shift down one row: row y sees rows < y
        hconv = self.h_f.conv
        h_w = torch.cat([self.h_f.conv.weight, self.h_g.conv.weight]) * hconv.mask
        hfg = F.conv2d(h, h_w, torch.cat([self.h_f.conv.bias, self.h_g.conv.bias]), padding=hconv.padding)
        hfg = hfg + self.pair(self.link_f, self.link_g, down)
        if self.cond is not None:
            e = self.cond(onehot)[:, :, None, None]
            vfg = vfg + e[:, :2 * p]
            hfg = hfg + e[:, 2 * p:]
        v_out = torch.tanh(vfg[:, :p]) * torch.sigmoid(vfg[:, p:])
        gated = self.h_out(torch.tanh(hfg[:, :p]) * torch.sigmoid(hfg[:, p:]))
        return v_out, (h + gated if self.residual else gated)


class CondGatedPixelCnn(nn.Module):
    """`GatedPixelCnnConfig::mnist_conditional()`: 10 gated layers of p = 64 (7x7 mask A, then 3x3 mask B),
    class-conditional (10 classes; 0 for `gated-pixelcnn`), head 1x1 64 -> 128 -> 1 (mask B), Bernoulli NLL
    summed per image."""

    def __init__(self, p=64, layers=10, first_kernel=7, kernel=3, head=128, classes=10):
        super().__init__()
        self.classes = classes
        self.layers = nn.ModuleList(
            GatedLayer(1 if i == 0 else p, p, first_kernel if i == 0 else kernel, "A" if i == 0 else "B",
                       classes, residual=i > 0)
            for i in range(layers))
        self.head = Masked(p, head, 1, "B")
        self.out = Masked(head, 1, 1, "B")

    def logits(self, x, labels):
        onehot = F.one_hot(labels, self.classes).float() if self.classes else None
        v = h = x * 2 - 1
        for layer in self.layers:
            v, h = layer(v, h, onehot)
        return self.out(F.relu(self.head(F.relu(h))))

    def forward(self, x, labels):
        return bernoulli_nll(self.logits(x, labels), x).mean()


class ConvLstmCell(nn.Module):
    """genzoo_layers::ConvLstmCell: a mask-B input-to-state convolution (computed once for the whole map)
    and an unmasked state-to-state one without bias; gates in the order i, f, o, g."""

    def __init__(self, c_in, hidden, input_kernel, state_kernel):
        super().__init__()
        self.input_to_state = MaskedConv2d(c_in, 4 * hidden, input_kernel, "B")
        self.state_to_state = nn.Conv2d(hidden, 4 * hidden, state_kernel, bias=False)
        kh, kw = state_kernel
        self.state_pad = (kw // 2, kw // 2, kh - 1, 0)  # causal in height, "same" in width
        self.hidden = hidden

    def step(self, gates, h, c):
        gates = gates + self.state_to_state(F.pad(h, self.state_pad))
        i, f, o, g = gates.chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


class RowLstmLayer(nn.Module):
    """Row LSTM (arXiv:1601.06759 §3.1) with its residual: x + out(RowLSTM(x)); a Python loop over rows."""

    def __init__(self, hidden, k):
        super().__init__()
        self.cell = ConvLstmCell(2 * hidden, hidden, (1, k), (1, k))
        self.out = Masked(hidden, 2 * hidden, 1, "B")  # 1x1 mask B, one colour group: nothing masked

    def forward(self, x):
        b, _, rows, w = x.shape
        gates = self.cell.input_to_state(x)
        h = c = x.new_zeros(b, self.cell.hidden, 1, w)
        out = []
        for r in range(rows):
            h, c = self.cell.step(gates[:, :, r:r + 1], h, c)
            out.append(h)
        return x + self.out(torch.cat(out, 2))


def skew(x):
    """Shifts row i right by i: [B, C, H, W] -> [B, C, H, W + H - 1] (pad, flatten, re-read narrower)."""
    b, c, h, w = x.shape
    return F.pad(x, (0, h)).flatten(2)[:, :, :h * (w + h - 1)].view(b, c, h, w + h - 1)


def unskew(s):
    """The inverse of `skew`: [B, C, H, L] -> [B, C, H, L - H + 1]."""
    b, c, h, cols = s.shape
    return F.pad(s.flatten(2), (0, h)).view(b, c, h, cols + 1)[:, :, :, :cols + 1 - h]


class DiagonalBiLstmLayer(nn.Module):
    """Diagonal BiLSTM (arXiv:1601.06759 §3.2) as genzoo builds it: skewed input, 1x1 input-to-state, 2x1
    state-to-state from column to column (a Python loop over the skewed columns); the right-to-left
    direction runs on the mirrored map, also reads the pixels (unmasked 1x1, no bias) and is shifted down
    a row; both directions summed; residual x + out(left + right). The two cells are named `forward` and
    `backward` as in genzoo; `forward` being nn.Module's method (which `add_module` refuses), they are
    put into `_modules` directly and read from there."""

    def __init__(self, hidden, channels=1):
        super().__init__()
        self._modules["forward"] = ConvLstmCell(2 * hidden, hidden, (1, 1), (2, 1))
        self._modules["backward"] = ConvLstmCell(2 * hidden, hidden, (1, 1), (2, 1))
        self.backward_pixels = nn.Conv2d(channels, 4 * hidden, 1, bias=False)
        self.out = Masked(hidden, 2 * hidden, 1, "B")

    @staticmethod
    def direction(cell, x, extra=None):
        gates = cell.input_to_state(skew(x))
        if extra is not None:
            gates = gates + skew(extra)
        b, _, rows, cols = gates.shape
        h = c = x.new_zeros(b, cell.hidden, rows, 1)
        out = []
        for j in range(cols):
            h, c = cell.step(gates[:, :, :, j:j + 1], h, c)
            out.append(h)
        return unskew(torch.cat(out, 3))

    def forward(self, x, image):
        left = self.direction(self._modules["forward"], x)
        pixels = self.backward_pixels(image.flip(3))
        right = self.direction(self._modules["backward"], x.flip(3), pixels).flip(3)
        right = F.pad(right[:, :, :-1], (0, 0, 1, 0))  # row r takes row r - 1
        return x + self.out(left + right)


class PixelRnn(nn.Module):
    """`PixelRnnConfig::mnist_row_lstm()` / `::mnist()`: 7x7 mask A 1 -> 2h, 7 residual Row LSTM or Diagonal
    BiLSTM layers of h = 16, ReLU -> 1x1 (2h -> 32) -> ReLU -> 1x1 (32 -> 1), Bernoulli NLL summed per image.
    The layers are `rows` or `diagonals`, as in genzoo."""

    def __init__(self, kind, hidden=16, layers=7, first_kernel=7, row_kernel=3, head=32):
        super().__init__()
        self.kind = kind
        self.input = Masked(1, 2 * hidden, first_kernel, "A")
        stack = nn.ModuleList(
            RowLstmLayer(hidden, row_kernel) if kind == "row-lstm" else DiagonalBiLstmLayer(hidden)
            for _ in range(layers))
        self.add_module("rows" if kind == "row-lstm" else "diagonals", stack)
        self.head = Masked(2 * hidden, head, 1, "B")
        self.out = Masked(head, 1, 1, "B")

    @property
    def layers(self):
        return self._modules["rows" if self.kind == "row-lstm" else "diagonals"]

    def logits(self, x):
        image = x * 2 - 1
        y = self.input(image)
        for layer in self.layers:
            y = layer(y) if self.kind == "row-lstm" else layer(y, image)
        return self.out(F.relu(self.head(F.relu(y))))

    def forward(self, x):
        return bernoulli_nll(self.logits(x), x).mean()


class DcganGenerator(nn.Module):
    """`DcganConfig::mnist()`'s generator, genzoo's names: fc -> [128, 7, 7] -> BN, ReLU -> deconv 4x4/2 ->
    BN, ReLU -> deconv 4x4/2 -> tanh."""

    def __init__(self, latent=100):
        super().__init__()
        self.fc = nn.Linear(latent, 128 * 7 * 7)
        self.bn0 = nn.BatchNorm2d(128)
        self.deconv1 = nn.ConvTranspose2d(128, 64, 4, 2, 1)
        self.bn1 = nn.BatchNorm2d(64)
        self.deconv2 = nn.ConvTranspose2d(64, 1, 4, 2, 1)

    def forward(self, z):
        h = F.relu(self.bn0(self.fc(z).view(-1, 128, 7, 7)))
        h = F.relu(self.bn1(self.deconv1(h)))
        return torch.tanh(self.deconv2(h))


class DcganDiscriminator(nn.Module):
    """`DcganConfig::mnist()`'s discriminator: conv 4x4/2, LeakyReLU(0.2) -> conv 4x4/2 -> BN, LeakyReLU ->
    fc -> a logit."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 64, 4, 2, 1)
        self.conv2 = nn.Conv2d(64, 128, 4, 2, 1)
        self.bn = nn.BatchNorm2d(128)
        self.fc = nn.Linear(128 * 7 * 7, 1)

    def forward(self, x):
        h = F.leaky_relu(self.conv1(x), 0.2)
        h = F.leaky_relu(self.bn(self.conv2(h)), 0.2)
        return self.fc(h.flatten(1))


def dcgan_nets():
    g, d = DcganGenerator(), DcganDiscriminator()
    for m in list(g.modules()) + list(d.modules()):
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
    return g, d


class MlpGenerator(nn.Module):
    """`MlpGanConfig::mnist()`'s generator: 100 -> 256 -> 512 -> 784, LeakyReLU(0.2), tanh."""

    def __init__(self, latent=100):
        super().__init__()
        self.fc1 = nn.Linear(latent, 256)
        self.fc2 = nn.Linear(256, 512)
        self.out = nn.Linear(512, 784)

    def forward(self, z):
        h = F.leaky_relu(self.fc2(F.leaky_relu(self.fc1(z), 0.2)), 0.2)
        return torch.tanh(self.out(h)).view(-1, 1, 28, 28)


class MlpDiscriminator(nn.Module):
    """`MlpGanConfig::mnist()`'s discriminator: 784 -> 512 -> 256 -> 1, LeakyReLU(0.2)."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 512)
        self.fc2 = nn.Linear(512, 256)
        self.out = nn.Linear(256, 1)

    def forward(self, x):
        h = F.leaky_relu(self.fc2(F.leaky_relu(self.fc1(x.flatten(1)), 0.2)), 0.2)
        return self.out(h)


def mlp_gan_nets():
    return MlpGenerator(), MlpDiscriminator()


class GanNets(nn.Module):
    """genzoo_gan::GanNets: both networks of a GAN, as one export holds them."""

    def __init__(self, generator, discriminator):
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator


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
    elif model == "cond-pixelcnn":
        net = CondGatedPixelCnn()
        labels = torch.randint(0, 10, (batch,), generator=gen).to(device)
        loss_fn = lambda: net(binary, labels)  # noqa: E731
    elif model in ("row-lstm", "diagonal-bilstm"):
        net = PixelRnn(model)
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


PRESETS = [("autoencoder", 64), ("vae", 128), ("vae-conv", 128), ("pixelcnn", 64), ("cond-pixelcnn", 32),
           ("row-lstm", 16), ("diagonal-bilstm", 16), ("dcgan", 64), ("gan", 64)]


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
    }
    gflop = gflop_per_step(model, batch)
    if gflop is not None:  # like genzoo's records: no count, no gflop_per_step / gflop_per_sec keys
        rec["gflop_per_step"] = gflop
        rec["gflop_per_sec"] = gflop / rec["train_step_s"]
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
        rate = f"{rec['gflop_per_sec']:.1f}" if "gflop_per_sec" in rec else "—"
        print(f"{model:<12} {batch:>6} {rec['train_images_per_sec']:>12.1f} {rec['train_step_s']:>10.4f} "
              f"{rate:>9}", flush=True)
    meta = {
        **cpu_info(),
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


def cpu_info():
    """The CPU model and widest vector ISA /proc/cpuinfo lists (genzoo bench's rule), and the ISA
    PyTorch's kernels dispatch to, so that a table is read with its machine."""
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        text = ""
    fields = dict(
        (k.strip(), v.strip())
        for k, _, v in (line.partition(":") for line in text.splitlines())
        if k.strip() in ("model name", "flags")
    )
    flags = set(fields.get("flags", "").split())
    if "model name" in fields:
        info["cpu_model"] = fields["model name"]
    info["isa"] = ("avx512f" if "avx512f" in flags else "avx2+fma" if {"avx2", "fma"} <= flags
                   else "avx" if "avx" in flags else "sse")
    try:
        info["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    except AttributeError:
        pass
    return info


if __name__ == "__main__":
    sys.exit(main())
