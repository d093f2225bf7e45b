#!/usr/bin/python3
"""Build real decoder architectures in PyTorch, export them with torch.onnx.export, and write
test fixtures with torch's own outputs, for the ONNX importer's tests.

Regenerate (from the repository root; Debian's python3-torch 1.13 and python3-onnx, not the
pyenv python3 on PATH):

    /usr/bin/python3 scripts/torch-fixtures.py --out test/fixtures/torch

The full-size models `npm run bench:real` times (BENCH_FIXTURES: DCGAN at ngf 64, PyTorch-VAE at
hidden dims 512..32, TAESD at c=64 for 8x8, 32x32 and 64x64 latents; about 40 MB) go to a git-ignored
folder instead (`npm run bench:one-image` decodes the 64x64 one, a 512x512 image):

    /usr/bin/python3 scripts/torch-fixtures.py --bench bench/real-models

For each fixture NAME it writes into --out:
  NAME.onnx  torch.onnx.export of the model in eval mode, batch axis 0 dynamic ("N") on every
             input and the output, input and output names given explicitly, default export
             options otherwise (do_constant_folding=True), as a user would export it.
  NAME.json  manifest: name, family, description, opset, torch version, inputs (name, shape with
             the fixture's batch, kind latent|label, offset, count), outputs (name, shape, offset,
             count), range of the output activation, ops (the ONNX op types in the graph).
             offset/count are float32 elements into NAME.bin.
  NAME.bin   little-endian float32: the inputs, then torch's outputs on exactly those inputs
             (eval mode, torch.no_grad).
and index.json (the fixture names) and README.md (a table of fixtures, opsets, op types, sizes).

Weights are seeded random (no network, no hub): torch.manual_seed per model (a CRC32 of the
model's name), default init, then every BatchNorm2d gets non-trivial running statistics
(running_mean ~ N(0, 0.5), running_var ~ U(0.5, 2)) and affine weight ~ U(0.5, 1.5),
bias ~ N(0, 0.2); every GroupNorm / InstanceNorm2d / LayerNorm gets non-trivial affine params the
same way, so that folding errors show. Then an LSUV-style rescale (see calibrate) of each
Conv/ConvTranspose/Linear so that activations keep std ~1 and the outputs span their range instead
of sitting near a constant. Inputs ~ N(0, 1) from their own seeded generator; labels are one-hot
float vectors.

Checked here: onnx.checker.check_model on every graph; scripts/check-torch-fixtures.mjs runs every
.onnx in onnxruntime-node (the project's devDependency) against the .bin, at the fixture's batch
and at batch 1.
"""
import argparse
import hashlib
import io
import json
import os
import sys
import warnings
import zlib

import numpy as np
import onnx
import torch
from torch import nn

warnings.filterwarnings("ignore")


# ---------------------------------------------------------------------------------------------
# 1. pytorch/examples mnist VAE (vae/main.py): the decoder half of VAE.decode
# ---------------------------------------------------------------------------------------------
class MnistVaeDecoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def forward(self, z):
        h3 = torch.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))


# ---------------------------------------------------------------------------------------------
# 2. pytorch/examples dcgan Generator (dcgan/main.py)
# ---------------------------------------------------------------------------------------------
class DcganGenerator(nn.Module):
    def __init__(self, nz=100, ngf=16, nc=3):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, input):
        return self.main(input)


# ---------------------------------------------------------------------------------------------
# 3/4. AntixK/PyTorch-VAE VanillaVAE / ConditionalVAE decoders (64x64x3)
# ---------------------------------------------------------------------------------------------
class PytorchVaeDecoder(nn.Module):
    def __init__(self, latent_dim=128, hidden_dims=(64, 32, 32, 16, 16), num_classes=0):
        super().__init__()
        hidden_dims = list(hidden_dims)  # already reversed, as VanillaVAE does before building
        self.h0 = hidden_dims[0]
        self.num_classes = num_classes
        self.decoder_input = nn.Linear(latent_dim + num_classes, hidden_dims[0] * 4)
        modules = []
        for i in range(len(hidden_dims) - 1):
            modules.append(nn.Sequential(
                nn.ConvTranspose2d(hidden_dims[i], hidden_dims[i + 1], kernel_size=3, stride=2,
                                   padding=1, output_padding=1),
                nn.BatchNorm2d(hidden_dims[i + 1]),
                nn.LeakyReLU()))
        self.decoder = nn.Sequential(*modules)
        self.final_layer = nn.Sequential(
            nn.ConvTranspose2d(hidden_dims[-1], hidden_dims[-1], kernel_size=3, stride=2, padding=1,
                               output_padding=1),
            nn.BatchNorm2d(hidden_dims[-1]),
            nn.LeakyReLU(),
            nn.Conv2d(hidden_dims[-1], out_channels=3, kernel_size=3, padding=1),
            nn.Tanh())

    def decode(self, z):
        result = self.decoder_input(z)
        result = result.view(-1, self.h0, 2, 2)
        result = self.decoder(result)
        return self.final_layer(result)

    def forward(self, z, y=None):
        if self.num_classes:
            z = torch.cat([z, y], dim=1)
        return self.decode(z)


# ---------------------------------------------------------------------------------------------
# 5/6/7. madebyollin/taesd Decoder (taesd.py), channels shrunk; and a GroupNorm variant
# ---------------------------------------------------------------------------------------------
def conv(n_in, n_out, **kwargs):
    return nn.Conv2d(n_in, n_out, 3, padding=1, **kwargs)


class Clamp(nn.Module):
    def forward(self, x):
        return torch.tanh(x / 3) * 3


class Block(nn.Module):
    def __init__(self, n_in, n_out, groupnorm=0):
        super().__init__()
        if groupnorm:
            # GroupNorm variant: GroupNorm(groups, C) + ReLU before the block's last conv
            self.conv = nn.Sequential(conv(n_in, n_out), nn.ReLU(), conv(n_out, n_out),
                                      nn.GroupNorm(groupnorm, n_out), nn.ReLU(), conv(n_out, n_out))
        else:
            self.conv = nn.Sequential(conv(n_in, n_out), nn.ReLU(), conv(n_out, n_out), nn.ReLU(),
                                      conv(n_out, n_out))
        self.skip = nn.Conv2d(n_in, n_out, 1, bias=False) if n_in != n_out else nn.Identity()
        self.fuse = nn.ReLU()

    def forward(self, x):
        return self.fuse(self.conv(x) + self.skip(x))


def TaesdDecoder(latent_channels=4, c=16, groupnorm=0):
    head = [Clamp(), conv(latent_channels, c)]
    if groupnorm:
        head.append(nn.GroupNorm(groupnorm, c))
    head.append(nn.ReLU())
    B = lambda: Block(c, c, groupnorm)
    return nn.Sequential(
        *head,
        B(), B(), B(), nn.Upsample(scale_factor=2), conv(c, c, bias=False),
        B(), B(), B(), nn.Upsample(scale_factor=2), conv(c, c, bias=False),
        B(), B(), B(), nn.Upsample(scale_factor=2), conv(c, c, bias=False),
        B(), conv(c, 3),
    )


# ---------------------------------------------------------------------------------------------
# 8. The README's snippet decoder, exactly as written, and its conditional variant
# ---------------------------------------------------------------------------------------------
class Decoder(nn.Module):
    def __init__(self, latent=16):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(latent, 64 * 7 * 7), nn.ReLU())
        self.up = nn.Sequential(
            nn.ConvTranspose2d(64, 32, kernel_size=4, stride=2, padding=1),  # 7x7 -> 14x14
            nn.BatchNorm2d(32),
            nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(32, 1, kernel_size=4, stride=2, padding=1),   # 14x14 -> 28x28
            nn.Sigmoid(),
        )

    def forward(self, z):
        return self.up(self.fc(z).view(z.size(0), 64, 7, 7))


class CDecoder(Decoder):
    def __init__(self, latent=16, classes=10):
        super().__init__(latent + classes)

    def forward(self, z, y):
        zy = torch.cat([z, y], 1)
        return self.up(self.fc(zy).view(zy.size(0), 64, 7, 7))


# ---------------------------------------------------------------------------------------------
# 9. Operator coverage: tiny decoders from a [N, 4, H, W] latent
# ---------------------------------------------------------------------------------------------
class OpsUpsample(nn.Module):
    def __init__(self, size=None):
        super().__init__()
        self.c1 = conv(4, 8)
        self.up = nn.Upsample(size=size) if size else nn.Upsample(scale_factor=2, mode="nearest")
        self.c2 = conv(8, 3)

    def forward(self, x):
        return torch.sigmoid(self.c2(self.up(torch.relu(self.c1(x)))))


class OpsBilinear(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = conv(4, 8)
        self.up1 = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.c2 = conv(8, 8)
        self.up2 = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
        self.c3 = conv(8, 3)

    def forward(self, x):
        x = self.up1(torch.relu(self.c1(x)))
        x = self.up2(torch.relu(self.c2(x)))
        return torch.sigmoid(self.c3(x))


class OpsPixelShuffle(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = conv(4, 32)
        self.ps1 = nn.PixelShuffle(2)
        self.c2 = conv(8, 12)
        self.ps2 = nn.PixelShuffle(2)

    def forward(self, x):
        x = self.ps1(torch.relu(self.c1(x)))
        return torch.tanh(self.ps2(self.c2(x)))


class OpsActivations(nn.Module):
    ACTS = [
        ("silu", nn.SiLU()),
        ("gelu", nn.GELU()),
        ("gelu_tanh", nn.GELU(approximate="tanh")),
        ("elu", nn.ELU()),
        ("softplus", nn.Softplus()),
        ("hardtanh", nn.Hardtanh(-0.8, 0.9)),
        ("clamp", None),  # torch.clamp(x, -1.5, 1.2)
        ("sigmoid", nn.Sigmoid()),
        ("leakyrelu", nn.LeakyReLU(0.1)),
        ("tanh", nn.Tanh()),
    ]

    def __init__(self):
        super().__init__()
        self.c0 = conv(4, 8)
        self.convs = nn.ModuleList([conv(8, 8) for _ in self.ACTS[1:]])
        self.acts = nn.ModuleList([a if a is not None else nn.Identity() for _, a in self.ACTS])
        self.cout = conv(8, 3)

    def forward(self, x):
        x = self.c0(x)
        for i, (name, _) in enumerate(self.ACTS):
            if i > 0:
                x = self.convs[i - 1](x)
            x = torch.clamp(x, -1.5, 1.2) if name == "clamp" else self.acts[i](x)
        return torch.tanh(self.cout(x))  # the last listed activation, Tanh, is also the output's


class OpsArith(nn.Module):
    def __init__(self, c=8):
        super().__init__()
        self.c1 = conv(4, c)
        self.c2 = conv(c, c)
        self.scale = nn.Parameter(torch.empty(1, c, 1, 1).uniform_(0.5, 1.5))
        self.ca = conv(c, c // 2)
        self.cb = nn.Conv2d(c, c // 2, 1)
        self.bn = nn.BatchNorm2d(c)
        self.inorm = nn.InstanceNorm2d(c, affine=True)
        self.ln = nn.LayerNorm(c)
        self.dw = nn.Conv2d(c, c, 3, padding=1, groups=c)
        self.gc = nn.Conv2d(c, c, 3, padding=1, groups=2)
        self.dil = nn.Conv2d(c, c, 3, padding=2, dilation=2)
        self.pad = nn.ZeroPad2d((0, 1, 0, 1))
        self.asym = nn.Conv2d(c, c, 2, padding=0)
        self.cout = conv(c, 3)

    def forward(self, x):
        x = self.c1(x)
        x = x + self.c2(torch.relu(x))                        # residual add
        x = x * 0.5                                           # x * const
        x = x / 3.0                                           # x / const
        x = x - 0.25                                          # x - const
        x = 1 - x                                             # const - x
        x = x * self.scale                                    # per-channel learned scale
        x = torch.cat([self.ca(x), self.cb(x)], dim=1)        # concat along channels
        x = self.bn(torch.relu(x))                            # BN after ReLU: no conv to fold into
        x = self.inorm(x)                                     # InstanceNorm2d(affine=True)
        x = self.ln(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)  # LayerNorm over channels
        x = torch.relu(self.dw(x))                            # depthwise
        x = torch.relu(self.gc(x))                            # grouped, groups=2
        x = torch.relu(self.dil(x))                           # dilated
        x = torch.relu(self.asym(self.pad(x)))                # asymmetric padding
        return torch.sigmoid(self.cout(x))


class OpsBnFusion(nn.Module):
    """What torch does to BatchNorm before the importer sees it: BatchNorm1d after a Linear stays a
    BatchNormalization (on a 2-D tensor); BatchNorm2d after a Conv2d is folded into the Conv by
    torch's exporter itself (eval mode); after a ConvTranspose2d it stays."""
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 64)
        self.bn1 = nn.BatchNorm1d(64)
        self.c1 = conv(4, 8)
        self.bn2 = nn.BatchNorm2d(8)
        self.c2 = conv(8, 8, bias=False)
        self.bn3 = nn.BatchNorm2d(8)
        self.up = nn.ConvTranspose2d(8, 3, 4, 2, 1)

    def forward(self, z):
        x = torch.relu(self.bn1(self.fc(z))).view(-1, 4, 4, 4)
        x = torch.relu(self.bn2(self.c1(x)))
        x = nn.functional.leaky_relu(self.bn3(self.c2(x)), 0.2)
        return torch.sigmoid(self.up(x))


# ---------------------------------------------------------------------------------------------
# Fixture machinery
# ---------------------------------------------------------------------------------------------
def seed_of(name):
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def nontrivial_norms(model):
    """Non-trivial running statistics and affine params (uses the global torch RNG, seeded)."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):  # BatchNorm2d, BatchNorm1d
                m.running_mean.normal_(0.0, 0.5)
                m.running_var.uniform_(0.5, 2.0)
            if isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.InstanceNorm2d, nn.LayerNorm)):
                if getattr(m, "weight", None) is not None:
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.normal_(0.0, 0.2)


def calibrate(model, fx):
    """LSUV-style rescale (Mishkin & Matas 2015), so that outputs are not near-constant: each
    Conv2d / ConvTranspose2d / Linear, in module order, has its weight and bias scaled so that its
    output has std 1 on a seeded calibration batch of 4 (the last one: std fx['last_std']). Two
    passes. Deterministic; the result is still a seeded random model."""
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    cal = make_inputs(fx["seed"] + "/calibration", fx.get("calib") or fx["inputs"], 4)
    for _ in range(2):
        for m in layers:
            seen = {}
            h = m.register_forward_hook(lambda mod, i, o: seen.__setitem__("o", o))
            with torch.no_grad():
                model(*cal)
            h.remove()
            target = fx["last_std"] if m is layers[-1] else 1.0
            k = target / float(seen["o"].std())
            with torch.no_grad():
                m.weight.mul_(k)
                if m.bias is not None:
                    m.bias.mul_(k)


def make_inputs(key, specs, batch):
    g = torch.Generator().manual_seed(seed_of(key + "/inputs"))
    out = []
    for spec in specs:
        shape = [batch] + list(spec["shape"])
        if spec["kind"] == "label":
            classes = shape[1]
            idx = torch.randint(0, classes, (batch,), generator=g)
            t = torch.zeros(batch, classes)
            t[torch.arange(batch), idx] = 1.0
        else:
            t = torch.randn(*shape, generator=g)
        out.append(t)
    return out


FIXTURES = []


def fixture(name, family, description, build, inputs, output, opset, batch, range_, seed=None,
            calib=None, last_std=1.0):
    """seed: the key of the model's weights and inputs (fixtures that share it share both, where
    the shapes agree); calib: the input specs to calibrate on (default: inputs); last_std: the
    calibrated std of the last layer's output."""
    FIXTURES.append(dict(name=name, family=family, description=description, build=build,
                         inputs=inputs, output=output, opset=opset, batch=batch, range=range_,
                         seed=seed if seed is not None else name, calib=calib, last_std=last_std))


L = lambda name, *shape: {"name": name, "shape": list(shape), "kind": "latent"}
Y = lambda name, classes: {"name": name, "shape": [classes], "kind": "label"}

fixture("mnist-vae", "mnist-vae",
        "pytorch/examples vae/main.py VAE decoder (decode): fc3 Linear(20,400), ReLU, fc4 "
        "Linear(400,784), Sigmoid; unshrunk",
        MnistVaeDecoder, [L("z", 20)], "x", 11, 2, [0, 1])

DCGAN_DESC = ("pytorch/examples dcgan/main.py Generator (nz=100, nc=3), ngf shrunk 64->{ngf}: "
              "ConvTranspose2d(nz,ngf*8,4,1,0,bias=False), BN, ReLU, 3x [ConvTranspose2d(4,2,1,"
              "bias=False), BN, ReLU], ConvTranspose2d(ngf,nc,4,2,1,bias=False), Tanh; 1x1 -> 64x64")
fixture("dcgan", "dcgan", DCGAN_DESC.format(ngf=16), lambda: DcganGenerator(ngf=16),
        [L("z", 100, 1, 1)], "x", 17, 2, [-1, 1])
fixture("dcgan-opset11", "dcgan", DCGAN_DESC.format(ngf=8) + "; the same graph as 'dcgan' "
        "exported at opset 11 (IR 6, BatchNormalization-9), ngf shrunk further to 8 to keep the "
        "fixtures small (at ngf 16 it would repeat dcgan's 1.5 MB of weights)",
        lambda: DcganGenerator(ngf=8), [L("z", 100, 1, 1)], "x", 11, 2, [-1, 1])

VAE_DESC = ("AntixK/PyTorch-VAE {cls} decoder for 64x64x3 (latent_dim 128{cond}), hidden_dims "
            "reversed [512,256,128,64,32] shrunk to [64,32,32,16,16]: decoder_input Linear(128{plus},"
            " 64*4), view(-1,64,2,2), 4x [ConvTranspose2d(3,2,1,output_padding=1), BatchNorm2d, "
            "LeakyReLU(0.01)], final_layer ConvTranspose2d(16,16,3,2,1,output_padding=1), "
            "BatchNorm2d, LeakyReLU, Conv2d(16,3,3,padding=1), Tanh")
fixture("pytorch-vae", "pytorch-vae", VAE_DESC.format(cls="VanillaVAE", cond="", plus=""),
        PytorchVaeDecoder, [L("z", 128)], "x", 17, 2, [-1, 1])
fixture("pytorch-cvae", "pytorch-vae",
        VAE_DESC.format(cls="ConditionalVAE", cond=", 40 classes, input torch.cat([z, y], dim=1)",
                        plus="+40"),
        lambda: PytorchVaeDecoder(num_classes=40), [L("z", 128), Y("y", 40)], "x", 17, 2, [-1, 1])

TAESD_DESC = ("madebyollin/taesd taesd.py Decoder, 64 channels shrunk to 16: Clamp (tanh(x/3)*3), "
              "conv({lc},16), ReLU, 3x Block, Upsample(2, nearest), conv(bias=False), 3x Block, "
              "Upsample, conv(bias=False), 3x Block, Upsample, conv(bias=False), Block, conv(16,3); "
              "conv = Conv2d(k=3,padding=1); Block = relu(conv,ReLU,conv,ReLU,conv + identity); "
              "latent {hw}x{hw} -> {out}x{out}. No output activation: TAESD's raw decoder output is "
              "roughly [0,1] (taesd.py clamps it, diffusers' DecoderTiny maps it to [-1,1] with "
              "mul(2).sub(1), neither is in this graph); the manifest's range is [-1,1] by convention")
TAESD_GN = ("; FLUX.2-style variant (32 latent channels, as FLUX.2's VAE; the GroupNorm placement is "
            "this fixture's choice, not a published model): GroupNorm(4,16) after the first conv "
            "(before its ReLU) and in every Block between the second conv and its ReLU: "
            "Block = relu(conv,ReLU,conv,GroupNorm(4,16),ReLU,conv + identity)")
fixture("taesd-4ch-8", "taesd", TAESD_DESC.format(lc=4, hw=8, out=64),
        lambda: TaesdDecoder(4, 16), [L("latent", 4, 8, 8)], "image", 17, 2, [-1, 1],
        seed="taesd-4ch", calib=[L("latent", 4, 8, 8)], last_std=0.5)
fixture("taesd-4ch-32", "taesd", TAESD_DESC.format(lc=4, hw=32, out=256)
        + "; same weights as taesd-4ch-8",
        lambda: TaesdDecoder(4, 16), [L("latent", 4, 32, 32)], "image", 17, 1, [-1, 1],
        seed="taesd-4ch", calib=[L("latent", 4, 8, 8)], last_std=0.5)
fixture("taesd-32ch-8", "taesd", TAESD_DESC.format(lc=32, hw=8, out=64) + TAESD_GN,
        lambda: TaesdDecoder(32, 16, groupnorm=4), [L("latent", 32, 8, 8)], "image", 17, 2,
        [-1, 1], seed="taesd-32ch", calib=[L("latent", 32, 8, 8)], last_std=0.5)
fixture("taesd-32ch-32", "taesd", TAESD_DESC.format(lc=32, hw=32, out=256) + TAESD_GN
        + "; same weights as taesd-32ch-8",
        lambda: TaesdDecoder(32, 16, groupnorm=4), [L("latent", 32, 32, 32)], "image", 17, 1,
        [-1, 1], seed="taesd-32ch", calib=[L("latent", 32, 8, 8)], last_std=0.5)

README_DESC = ("edgevae README.md's PyTorch snippet Decoder, exactly as written (latent 16{cond}): fc = "
               "Sequential(Linear({fin}, 64*7*7), ReLU); up = Sequential(ConvTranspose2d(64,32,4,2,1), "
               "BatchNorm2d(32), LeakyReLU(0.2), ConvTranspose2d(32,1,4,2,1), Sigmoid); forward: "
               "up(fc(z).view(z.size(0),64,7,7))")
fixture("readme-decoder", "readme", README_DESC.format(cond="", fin=16), Decoder,
        [L("z", 16)], "x", 17, 2, [0, 1])
fixture("readme-cdecoder", "readme",
        README_DESC.format(cond="; conditional: 10 classes, zy = torch.cat([z, y], 1) in place "
                           "of z", fin="16+10"),
        CDecoder, [L("z", 16), Y("y", 10)], "x", 17, 2, [0, 1])

fixture("ops-upsample-opset9", "ops",
        "conv(4,8), ReLU, nn.Upsample(scale_factor=2, mode='nearest'), conv(8,3), Sigmoid; opset 9 "
        "(the old Upsample op)", OpsUpsample, [L("latent", 4, 4, 4)], "image", 9, 2, [0, 1],
        seed="ops-upsample")
fixture("ops-upsample-opset10", "ops",
        "conv(4,8), ReLU, nn.Upsample(scale_factor=2, mode='nearest'), conv(8,3), Sigmoid; opset 10 "
        "(Resize-10, no coordinate_transformation_mode); same weights as ops-upsample-opset9",
        OpsUpsample, [L("latent", 4, 4, 4)], "image", 10, 2, [0, 1], seed="ops-upsample")
fixture("ops-upsample-size", "ops",
        "conv(4,8), ReLU, nn.Upsample(size=(8,8)) (nearest, a target size instead of a scale), "
        "conv(8,3), Sigmoid; opset 17: Resize gets a sizes input built from Shape -> Slice -> "
        "Concat; same weights as ops-upsample-opset9",
        lambda: OpsUpsample(size=(8, 8)), [L("latent", 4, 4, 4)], "image", 17, 2, [0, 1],
        seed="ops-upsample")
fixture("ops-bilinear", "ops",
        "conv(4,8), ReLU, nn.Upsample(2, bilinear, align_corners=False), conv(8,8), ReLU, "
        "nn.Upsample(2, bilinear, align_corners=True), conv(8,3), Sigmoid; 4x4 -> 16x16",
        OpsBilinear, [L("latent", 4, 4, 4)], "image", 17, 2, [0, 1])
fixture("ops-pixelshuffle", "ops",
        "conv(4,32), ReLU, nn.PixelShuffle(2), conv(8,12), nn.PixelShuffle(2), Tanh; 4x4 -> 16x16",
        OpsPixelShuffle, [L("latent", 4, 4, 4)], "image", 17, 2, [-1, 1])
ACT_DESC = ("conv(4,8) then in sequence, with a conv(8,8) between consecutive ones: SiLU, GELU "
            "(approximate='none'), GELU(approximate='tanh'), ELU, Softplus, Hardtanh(-0.8,0.9), "
            "torch.clamp(-1.5,1.2), Sigmoid, LeakyReLU(0.1), Tanh; then conv(8,3), Tanh")
fixture("ops-activations", "ops", ACT_DESC, OpsActivations, [L("latent", 4, 6, 6)], "image", 17,
        2, [-1, 1])
fixture("ops-activations-opset11", "ops", ACT_DESC + "; same weights as ops-activations, opset 11",
        OpsActivations, [L("latent", 4, 6, 6)], "image", 11, 2, [-1, 1], seed="ops-activations")
ARITH_DESC = ("conv(4,8); x + conv(relu(x)) (residual); x*0.5; x/3; x-0.25; 1-x; x*scale "
              "(nn.Parameter [1,8,1,1]); cat([conv(8,4)(x), conv1x1(8,4)(x)], dim=1); "
              "BatchNorm2d(relu(x)) (BN after ReLU, not foldable into a conv before it); "
              "InstanceNorm2d(8, affine=True); LayerNorm(8) over channels via permute(0,2,3,1) and "
              "back; relu(depthwise conv groups=8); relu(grouped conv groups=2); relu(dilated conv "
              "dilation=2 padding=2); relu(Conv2d(8,8,2) after ZeroPad2d((0,1,0,1))); conv(8,3), "
              "Sigmoid; 8x8")
fixture("ops-arith", "ops", ARITH_DESC + "; opset 17 (LayerNorm exports as LayerNormalization)",
        OpsArith, [L("latent", 4, 8, 8)], "image", 17, 2, [0, 1])
fixture("ops-arith-opset11", "ops", ARITH_DESC + "; same weights as ops-arith, opset 11 "
        "(LayerNorm exports decomposed: ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add)",
        OpsArith, [L("latent", 4, 8, 8)], "image", 11, 2, [0, 1], seed="ops-arith")
fixture("ops-bn-fusion", "ops",
        "Linear(8,64), BatchNorm1d(64), ReLU, view(-1,4,4,4), conv(4,8), BatchNorm2d, ReLU, "
        "conv(8,8,bias=False), BatchNorm2d, LeakyReLU(0.2), ConvTranspose2d(8,3,4,2,1), Sigmoid; "
        "torch folds each Conv2d+BatchNorm2d into the Conv at export (the graph has no "
        "BatchNormalization after a Conv), BatchNorm1d after the Linear stays a "
        "BatchNormalization on [N,64]", OpsBnFusion, [L("z", 8)], "image", 17, 2, [0, 1])


# ---------------------------------------------------------------------------------------------
# Full-size models for `npm run bench:real` (bench/real.ts): the architectures above at their
# published widths. Written only with --bench DIR (a git-ignored folder: tens of MB of weights),
# never into the test fixtures.
# ---------------------------------------------------------------------------------------------
BENCH_FIXTURES = []


def bench_fixture(name, *args, **kwargs):
    fixture(name, *args, **kwargs)
    BENCH_FIXTURES.append(FIXTURES.pop())


bench_fixture("dcgan-full", "dcgan",
              "pytorch/examples dcgan/main.py Generator at its defaults (nz=100, ngf=64, nc=3): "
              "ConvTranspose2d(100,512,4,1,0,bias=False), BN, ReLU, 3x [ConvTranspose2d(4,2,1,"
              "bias=False), BN, ReLU], ConvTranspose2d(64,3,4,2,1,bias=False), Tanh; 1x1 -> 64x64",
              lambda: DcganGenerator(ngf=64), [L("z", 100, 1, 1)], "x", 17, 2, [-1, 1])
bench_fixture("pytorch-vae-full", "pytorch-vae",
              "AntixK/PyTorch-VAE VanillaVAE decoder for 64x64x3 at its defaults (latent_dim 128, "
              "hidden_dims reversed [512,256,128,64,32]): decoder_input Linear(128, 512*4), "
              "view(-1,512,2,2), 4x [ConvTranspose2d(3,2,1,output_padding=1), BatchNorm2d, "
              "LeakyReLU(0.01)], final_layer ConvTranspose2d(32,32,3,2,1,output_padding=1), "
              "BatchNorm2d, LeakyReLU, Conv2d(32,3,3,padding=1), Tanh",
              lambda: PytorchVaeDecoder(hidden_dims=(512, 256, 128, 64, 32)), [L("z", 128)], "x",
              17, 2, [-1, 1])
TAESD_FULL_DESC = ("madebyollin/taesd taesd.py Decoder at full width (c=64, 4 latent channels): "
                   "Clamp, conv(4,64), ReLU, 3x Block, Upsample(2), conv(bias=False), 3x Block, "
                   "Upsample, conv(bias=False), 3x Block, Upsample, conv(bias=False), Block, "
                   "conv(64,3); latent {hw}x{hw} -> {out}x{out}")
bench_fixture("taesd-full-8", "taesd", TAESD_FULL_DESC.format(hw=8, out=64),
              lambda: TaesdDecoder(4, 64), [L("latent", 4, 8, 8)], "image", 17, 2, [-1, 1],
              seed="taesd-full", calib=[L("latent", 4, 8, 8)], last_std=0.5)
bench_fixture("taesd-full-32", "taesd", TAESD_FULL_DESC.format(hw=32, out=256)
              + "; same weights as taesd-full-8",
              lambda: TaesdDecoder(4, 64), [L("latent", 4, 32, 32)], "image", 17, 1, [-1, 1],
              seed="taesd-full", calib=[L("latent", 4, 8, 8)], last_std=0.5)
bench_fixture("taesd-full-64", "taesd", TAESD_FULL_DESC.format(hw=64, out=512)
              + "; same weights as taesd-full-8",
              lambda: TaesdDecoder(4, 64), [L("latent", 4, 64, 64)], "image", 17, 1, [-1, 1],
              seed="taesd-full", calib=[L("latent", 4, 8, 8)], last_std=0.5)


def graph_ops(model_proto):
    ops = set()

    def walk(g):
        for n in g.node:
            ops.add(n.op_type)
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    walk(a.g)
    walk(model_proto.graph)
    return sorted(ops)


def op_counts(model_proto):
    counts = {}
    for n in model_proto.graph.node:
        counts[n.op_type] = counts.get(n.op_type, 0) + 1
    return counts


def build_one(fx, out_dir):
    name = fx["name"]
    torch.manual_seed(seed_of(fx["seed"]))
    model = fx["build"]()
    nontrivial_norms(model)
    model.eval()
    calibrate(model, fx)

    ins = make_inputs(fx["seed"], fx["inputs"], fx["batch"])
    with torch.no_grad():
        y = model(*ins)
    in_names = [s["name"] for s in fx["inputs"]]
    out_name = fx["output"]
    dyn = {n: {0: "N"} for n in in_names + [out_name]}

    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(model, tuple(ins), buf, input_names=in_names, output_names=[out_name],
                          dynamic_axes=dyn, opset_version=fx["opset"])
    onnx_bytes = buf.getvalue()
    proto = onnx.load_from_string(onnx_bytes)
    onnx.checker.check_model(proto)
    with open(os.path.join(out_dir, name + ".onnx"), "wb") as f:
        f.write(onnx_bytes)

    arrays, offset, in_meta = [], 0, []
    for spec, t in zip(fx["inputs"], ins):
        a = t.detach().numpy().astype("<f4").ravel()
        in_meta.append({"name": spec["name"], "shape": list(t.shape), "kind": spec["kind"],
                        "offset": offset, "count": int(a.size)})
        arrays.append(a)
        offset += a.size
    a = y.detach().numpy().astype("<f4").ravel()
    out_meta = [{"name": out_name, "shape": list(y.shape), "offset": offset, "count": int(a.size)}]
    arrays.append(a)
    bin_bytes = np.concatenate(arrays).astype("<f4").tobytes()
    with open(os.path.join(out_dir, name + ".bin"), "wb") as f:
        f.write(bin_bytes)

    manifest = {
        "name": name,
        "family": fx["family"],
        "description": fx["description"],
        "opset": fx["opset"],
        "torch": torch.__version__,
        "inputs": in_meta,
        "outputs": out_meta,
        "range": fx["range"],
        "ops": graph_ops(proto),
    }
    with open(os.path.join(out_dir, name + ".json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")

    yv = y.detach().numpy()
    return {
        "name": name, "opset": fx["opset"], "ops": graph_ops(proto), "counts": op_counts(proto),
        "inputs": [(m["name"], m["shape"]) for m in in_meta], "output": out_meta[0]["shape"],
        "onnx_size": len(onnx_bytes), "bin_size": len(bin_bytes),
        "onnx_sha": hashlib.sha256(onnx_bytes).hexdigest()[:16],
        "bin_sha": hashlib.sha256(bin_bytes).hexdigest()[:16],
        "ymin": float(yv.min()), "ymax": float(yv.max()), "ystd": float(yv.std()),
    }


def fmt_shape(s):
    return "[" + ",".join(str(d) for d in s) + "]"


PATTERNS = """## What torch 1.13's exporter emits (what the importer must read)

General
- Weights are graph initializers named after the module path (`main.0.weight`), except tensors
  the exporter made itself (`onnx::Conv_37`, `onnx::Mul_329`). Scalars and small shape vectors are
  `Constant` nodes (0-d float tensors for scalars: `Mul(x, Constant 0.5)`), not initializers.
  Constant operands come first or second depending on how the Python was written
  (`0.5 * x` vs `x * 0.5`; the GELU-tanh pattern has both).
- The output tensor is produced directly by the last node (no Identity). No value_info.
- IR version follows the opset: opset 9 -> IR 4, 10 -> 5, 11 -> 6, 17 -> 8.
- The graph output's declared shape is not always static: after a `Reshape` with a -1 batch
  (`view(-1, C, H, W)`), after `Pad` with computed pads, or after a `Resize` with computed sizes,
  torch's shape inference gives up and writes symbolic spatial dims such as `['N', 3,
  'Tanhx_dim_2', 'Tanhx_dim_3']` (pytorch-vae, pytorch-cvae, ops-arith, ops-arith-opset11,
  ops-bn-fusion, ops-upsample-size). The importer must infer shapes itself; the manifests hold the
  real ones. (The README snippet's Shape/Gather chain does keep [N, 1, 28, 28].)
- `nn.Linear` on a 2-D input -> `Gemm(x, W[out,in], b, transB=1, alpha=1, beta=1)`.
- `view(z.size(0), 64, 7, 7)` (the README snippet) -> `Shape -> Gather(0) -> Unsqueeze(axes input
  [0]) -> Concat([n], [64], [7], [7]) -> Reshape`; `view(-1, C, H, W)` (PyTorch-VAE) -> `Reshape`
  with a `Constant` int64 [-1, C, H, W]. `allowzero=0` on opset-14+ Reshape.
- `torch.cat([z, y], 1)` -> `Concat(axis=1)`.

BatchNorm
- Conv2d followed by BatchNorm2d: torch folds the BN into the Conv at export in eval mode, even
  with do_constant_folding=False; the graph has a plain Conv (with a bias, even when the Conv had
  bias=False), initializers renamed `onnx::Conv_NN` (ops-bn-fusion).
- ConvTranspose2d followed by BatchNorm2d is not folded: `ConvTranspose -> BatchNormalization`
  (dcgan, pytorch-vae, readme-decoder): the importer must fold it. BatchNorm1d after a Linear:
  `Gemm -> BatchNormalization` on a 2-D [N, C] tensor (ops-bn-fusion). BN after ReLU stays a
  `BatchNormalization` (ops-arith).
- BatchNormalization attributes: epsilon=1e-5, momentum=0.9 (1 - torch's 0.1), and at opset 15+
  training_mode=0; five inputs (X, scale, B, mean, var), one output.

Upsampling
- nn.Upsample(scale_factor=2, nearest): opset 9 -> `Upsample(X, scales)` mode=nearest, scales a
  `Constant` float [1, 1, 2, 2]; opset 10 -> `Resize(X, scales)` mode=nearest (no other attrs);
  opset 11+ -> `Resize(X, roi='', scales=Constant [1,1,2,2])` (empty-name roi input, no sizes
  input), mode=nearest, coordinate_transformation_mode=asymmetric, nearest_mode=floor,
  cubic_coeff_a=-0.75. No Shape/Gather/Concat chains when scale_factor is given (nn.Upsample or
  F.interpolate).
- nn.Upsample(size=(8, 8)) (ops-upsample-size): `Resize(X, roi='', scales='', sizes)` with sizes
  computed at run time: `Shape(X) -> Slice(starts [0], ends [2], axes [0]) -> Concat(., Constant
  int64 [8, 8])`, i.e. [N, C, 8, 8]; the importer has to evaluate the chain with the input's
  static C (and any N).
- Bilinear, align_corners=False -> mode=linear, coordinate_transformation_mode=half_pixel (not
  pytorch_half_pixel: they differ only for an output size of 1); align_corners=True ->
  coordinate_transformation_mode=align_corners. Same roi='' and constant scales.
- nn.PixelShuffle(2) at opset 11+ -> `DepthToSpace(blocksize=2, mode=CRD)` (at opset 9/10 it
  would be Reshape -> Transpose(perm=[0,1,4,2,5,3]) -> Reshape; no fixture).

Normalization
- GroupNorm(G, C) -> `Reshape(x, Constant [0, G, -1])` (0 copies the batch dim) ->
  `InstanceNormalization(scale=Constant ones[G], B=Constant zeros[G], epsilon=1e-5)` ->
  `Shape(x)` -> `Reshape(back to x's shape)` -> `Mul(weight as initializer [C,1,1])` ->
  `Add(bias as initializer [C,1,1])`. The Mul/Add initializers are named `onnx::Mul_NNN` /
  `onnx::Add_NNN`.
- InstanceNorm2d(affine=True) -> `InstanceNormalization(x, weight[C], bias[C], epsilon)`.
- LayerNorm over channels (permute -> LayerNorm(C) -> permute): `Transpose(perm=[0,2,3,1])`,
  then at opset 17 `LayerNormalization(x, weight, bias, axis=-1, epsilon=1e-5)`, at opset < 17
  decomposed: `ReduceMean(axes=[-1]) -> Sub -> Pow(2) -> ReduceMean(axes=[-1]) -> Add(eps) ->
  Sqrt -> Div -> Mul(weight) -> Add(bias)`; then `Transpose(perm=[0,3,1,2])`.

Activations
- SiLU -> `Sigmoid(x)` then `Mul(x, sigmoid)` (no Swish op at any opset).
- GELU (approximate='none') -> `Div(x, 1.4142135) -> Erf -> Add(1) -> Mul(x, .) -> Mul(., 0.5)`.
- GELU (approximate='tanh') -> `Mul(x, x) -> Mul(x, x*x) -> Mul(0.044715, x^3) -> Add(x, .) ->
  Mul(0.7978846, .) -> Tanh -> Add(1, .) -> Mul(x, .) -> Mul(0.5, .)` (no Pow).
- Softplus (beta=1) -> `Softplus` (beta=2 would be Mul(2) -> Softplus -> Div(2); no fixture); ELU -> `Elu(alpha=1)`; LeakyReLU -> `LeakyRelu(alpha)`.
- Hardtanh(a, b) and torch.clamp(x, a, b) -> `Clip(x, Constant a, Constant b)` (min/max as 0-d
  inputs at opset 11+).
- TAESD's Clamp `tanh(x/3)*3` -> `Div(x, 3) -> Tanh -> Mul(., 3)`.

Arithmetic and convolutions
- `x * 0.5` -> Mul, `x / 3` -> Div (not a Mul by 1/3), `x - 0.25` -> Sub(x, c), `1 - x` ->
  Sub(Constant 1, x); an nn.Parameter [1,C,1,1] -> `Mul(x, initializer 'scale')`; residual ->
  `Add`.
- Depthwise: `Conv(group=C)`, weight [C,1,k,k]; grouped: `Conv(group=2)`, weight [Cout, Cin/2,
  k, k]; dilated: `dilations=[2,2] pads=[2,2,2,2]`; Conv pads are [top, left, bottom, right].
  ConvTranspose carries `output_padding` when set (pytorch-vae); a bias-less layer has 2 inputs.
- nn.ZeroPad2d((0,1,0,1)) at opset 11+ -> `Pad(x, pads, Constant 0.0, mode=constant)` whose pads
  are NOT a constant but a subgraph torch did not fold: `Concat(Constant [0,1,0,1],
  ConstantOfShape([4]) of int64 0) -> Reshape([-1, 2]) -> Slice(starts -1, ends -INT64_MAX,
  axes 0, steps -1) -> Transpose(perm=[1,0]) -> Reshape([-1]) -> Cast(to=INT64)`, which evaluates
  to [0,0,0,0, 0,0,1,1] (begin N,C,H,W then end N,C,H,W: bottom and right by 1). The importer has
  to constant-fold it (or match it).
"""


def write_readme(out_dir, rows, total):
    lines = [
        "# torch.onnx.export fixtures",
        "",
        "Real decoder architectures built in PyTorch with seeded random weights, exported with",
        f"`torch.onnx.export` (torch {torch.__version__}, onnx {onnx.__version__}), and torch's own",
        "outputs on fixed inputs. Written by `scripts/torch-fixtures.py`; regenerate from the",
        "repository root with Debian's python3-torch (not the pyenv `python3` on PATH):",
        "",
        "```sh",
        "/usr/bin/python3 scripts/torch-fixtures.py --out test/fixtures/torch",
        "```",
        "",
        "Per fixture: `NAME.onnx` (eval mode, default export options, batch axis 0 dynamic as `N` on",
        "the inputs and the output), `NAME.json` (manifest: inputs/outputs with shapes at the",
        "fixture's batch and offset/count in float32 elements into `NAME.bin`, output range, op",
        "types), `NAME.bin` (little-endian float32: the inputs, then torch's output). `index.json`",
        "lists the names. Every BatchNorm2d has non-trivial running statistics and affine params,",
        "every GroupNorm/InstanceNorm2d/LayerNorm non-trivial affine params; each Conv/Linear is",
        "rescaled (LSUV) so activations keep std ~1 and outputs span their range.",
        "",
        "onnxruntime-node agrees with torch on every fixture to < 1e-5 (at the fixture's batch and at",
        "batch 1): `node scripts/check-torch-fixtures.mjs test/fixtures/torch`.",
        "",
        "Determinism: the script seeds everything; running it twice gives byte-identical `.bin`",
        "files **and** byte-identical `.onnx` files (checked with torch 1.13.0a0 on this machine;",
        "the script prints SHA-256 prefixes of both so a rerun can be compared).",
        "",
        "| fixture | opset | inputs | output | ONNX op types | .onnx | .bin |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ins = ", ".join(f"{n} {fmt_shape(s)}" for n, s in r["inputs"])
        ops = " ".join(f"{op}" + (f"×{r['counts'][op]}" if r["counts"].get(op, 1) > 1 else "")
                       for op in r["ops"])
        lines.append(f"| {r['name']} | {r['opset']} | {ins} | {fmt_shape(r['output'])} | {ops} | "
                     f"{r['onnx_size']:,} | {r['bin_size']:,} |")
    lines += ["", f"Total: {total:,} bytes in the .onnx, .bin and .json files.", "", PATTERNS]
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="test/fixtures/torch")
    ap.add_argument("--only", nargs="*", help="build only these fixtures (index.json and README.md "
                    "are then not rewritten)")
    ap.add_argument("--bench", metavar="DIR", help="write the full-size models of npm run "
                    "bench:real (BENCH_FIXTURES, tens of MB) into DIR instead of the test fixtures, "
                    "with bench.json listing them; --only narrows them too")
    args = ap.parse_args()
    torch.set_num_threads(2)
    if args.bench:
        return write_bench(args.bench, args.only)
    os.makedirs(args.out, exist_ok=True)

    rows = []
    for fx in FIXTURES:
        if args.only and fx["name"] not in args.only:
            continue
        r = build_one(fx, args.out)
        rows.append(r)
        print(f"{r['name']:<24} opset {r['opset']:>2}  onnx {r['onnx_size']:>9,}  bin "
              f"{r['bin_size']:>9,}  y in [{r['ymin']:.3f}, {r['ymax']:.3f}] std {r['ystd']:.3f}  "
              f"onnx {r['onnx_sha']} bin {r['bin_sha']}")
        print("    " + " ".join(f"{k}x{v}" for k, v in sorted(r["counts"].items())))
        sys.stdout.flush()
    if args.only:
        return
    names = [r["name"] for r in rows]
    with open(os.path.join(args.out, "index.json"), "w") as f:
        json.dump(names, f, indent=2)
        f.write("\n")
    total = 0
    for n in names:
        for ext in (".onnx", ".bin", ".json"):
            total += os.path.getsize(os.path.join(args.out, n + ext))
    write_readme(args.out, rows, total)
    print(f"total {total:,} bytes")


def write_bench(out_dir, only):
    """The full-size models, each as a fixture is written (NAME.onnx, .json, .bin), and
    bench.json: the names written, with the torch and onnx versions."""
    os.makedirs(out_dir, exist_ok=True)
    names = []
    for fx in BENCH_FIXTURES:
        if only and fx["name"] not in only:
            continue
        r = build_one(fx, out_dir)
        names.append(r["name"])
        print(f"{r['name']:<24} opset {r['opset']:>2}  onnx {r['onnx_size']:>11,}  y in "
              f"[{r['ymin']:.3f}, {r['ymax']:.3f}] std {r['ystd']:.3f}  onnx {r['onnx_sha']}")
        sys.stdout.flush()
    index = os.path.join(out_dir, "bench.json")
    known = []
    if os.path.exists(index):
        with open(index) as f:
            known = json.load(f).get("models", [])
    models = [n for n in [fx["name"] for fx in BENCH_FIXTURES] if n in names or n in known]
    with open(index, "w") as f:
        json.dump({"torch": torch.__version__, "onnx": onnx.__version__, "models": models}, f,
                  indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
