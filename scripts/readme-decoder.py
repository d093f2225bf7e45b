#!/usr/bin/python3
"""Run the README's "Bring your own decoder" PyTorch snippet for real: train a VAE on MNIST whose
decoder is the snippet's `Decoder` class, save `decoder.state_dict()` as decoder.pt, then execute the
snippet itself (load decoder.pt, eval(), torch.onnx.export) to write decoder.onnx.

Run from the repository root with Debian's python3-torch 1.13 and python3-onnx (not the pyenv
python3 on PATH), MNIST's four gzipped IDX files in --data (or $EDGEVAE_MNIST_DIR):

    /usr/bin/python3 scripts/readme-decoder.py --data $EDGEVAE_MNIST_DIR --out runs/readme-decoder --epochs 3

Speed: Debian's torch does its transposed convolutions through libblas.so.3. With Debian's reference
BLAS (libblas3) as libblas.so.3 a batch of 128 took ~0.6 s on one core here (5 batches timed; so
~14 min for 3 epochs, not run); with OpenBLAS (Debian's libopenblas0-pthread, which `apt install`
makes libblas.so.3) ~0.1 s, and the 3 epochs took 3 minutes.
Without installing it system-wide (as here, on a shared machine):

    apt-get download libopenblas0-pthread && dpkg -x libopenblas0-pthread_*.deb /tmp/openblas
    LD_LIBRARY_PATH=/tmp/openblas/usr/lib/x86_64-linux-gnu/openblas-pthread OPENBLAS_NUM_THREADS=1 \
      /usr/bin/python3 scripts/readme-decoder.py --data $EDGEVAE_MNIST_DIR --out runs/readme-decoder --epochs 3

then the README's next steps:

    npx edgevae import runs/readme-decoder/decoder.onnx --dtype int8 --out runs/readme-decoder/decoder.evae
    npx edgevae info runs/readme-decoder/decoder.evae
    npx edgevae sample --model runs/readme-decoder/decoder.evae --n 64 --seed 1 --out docs/images/readme-decoder-samples.png

The snippet is not copied here: it is read from docs/IMPORT.md (the first ```python block of the section
"Bring your own decoder"). Its lines up to `decoder = Decoder()` define the class the VAE trains;
after training the whole snippet runs, unchanged, in --out (its paths are relative), so the README's
code is exactly the code that made decoder.onnx.

The VAE: encoder Conv2d(1,32,4,2,1), ReLU, Conv2d(32,64,4,2,1), ReLU, Linear(64*7*7, 2*16) -> mu,
logvar; the README's Decoder; loss = binary cross-entropy (summed over pixels) + KL to N(0, I), Adam
1e-3, batch 128; a progress line every 50 batches and one per epoch (mean train loss per image,
seconds). --train-images N trains on a seeded random N of the 60000 images (default all). Seeded
(--seed): the same command draws the same data order, initialisation and noise.

Ctrl-C stops after the current batch, keeps what was trained, still writes decoder.pt and
decoder.onnx (train.json says interrupted) and exits with 130; a second Ctrl-C aborts at once.
decoder.pt and train.json are written under a temporary name and renamed (decoder.onnx is written by
the snippet's torch.onnx.export). Writes into --out: decoder.pt, decoder.onnx, train.json.

Measured here (2 cores shared with other jobs, OpenBLAS as above, 1 thread): 3 epochs of 60000,
56 + 72 + 56 s, final train loss 107.7 per image, 3 min 6 s wall for the whole command.
"""
import argparse
import gzip
import json
import os
import re
import signal
import sys
import textwrap
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LATENT = 16


def readme_snippet():
    """The first ```python block after the heading '## Bring your own decoder', dedented."""
    with open(os.path.join(ROOT, "docs", "IMPORT.md"), encoding="utf-8") as f:
        text = f.read()
    start = text.find("## Bring your own decoder")
    if start < 0:
        sys.exit("docs/IMPORT.md has no section '## Bring your own decoder'")
    match = re.search(r"^([ \t]*)```python\n(.*?)^[ \t]*```", text[start:], re.S | re.M)
    if not match:
        sys.exit("docs/IMPORT.md's 'Bring your own decoder' section has no ```python block")
    return textwrap.dedent(match.group(2))


def snippet_class_part(snippet):
    """The snippet's imports and class definition: its lines before `decoder = Decoder()`."""
    head, sep, _ = snippet.partition("\ndecoder = Decoder()")
    if not sep:
        sys.exit("the README snippet has no line `decoder = Decoder()`")
    return head


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    dims = magic & 0xFF
    if magic >> 8 != 0x08:
        sys.exit(f"{path}: not an unsigned-byte IDX file (magic {magic:#x})")
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


class Encoder(nn.Module):
    def __init__(self, latent=LATENT):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU(),   # 28 -> 14
            nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(),  # 14 -> 7
        )
        self.fc = nn.Linear(64 * 7 * 7, 2 * latent)

    def forward(self, x):
        mu, logvar = self.fc(self.conv(x).flatten(1)).chunk(2, dim=1)
        return mu, logvar


def save_atomically(path, write):
    tmp = path + ".tmp"
    write(tmp)
    os.replace(tmp, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get("EDGEVAE_MNIST_DIR"),
                        help="folder with train-images-idx3-ubyte.gz etc. (default: $EDGEVAE_MNIST_DIR)")
    parser.add_argument("--out", default="runs/readme-decoder")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-images", type=int, default=60000,
                        help="train on this many of the 60000 images (a seeded random subset; default all)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: on a busy 2-core machine, 2 OpenMP threads waiting on each other were slower)")
    args = parser.parse_args()
    if not args.data:
        parser.error("--data (or EDGEVAE_MNIST_DIR) is required: the folder with MNIST's gzipped IDX files")
    images_path = os.path.join(args.data, "train-images-idx3-ubyte.gz")
    if not os.path.exists(images_path):
        parser.error(f"{images_path} does not exist")

    started = time.time()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)

    snippet = readme_snippet()
    scope = {}
    exec(compile(snippet_class_part(snippet), "docs/IMPORT.md (snippet: class Decoder)", "exec"), scope)
    decoder = scope["Decoder"]()
    assert decoder.fc[0].in_features == LATENT, "the README's Decoder takes a 16-d latent"
    encoder = Encoder()

    images = torch.from_numpy(read_idx(images_path).astype(np.float32) / 255.0).unsqueeze(1)
    order_rng = np.random.default_rng(args.seed)
    if args.train_images < images.shape[0]:
        images = images[torch.from_numpy(np.sort(order_rng.permutation(images.shape[0])[:args.train_images]))]
    count = images.shape[0]
    print(f"MNIST: {count} training images from {args.data}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; {args.epochs} epochs of {args.batch}", flush=True)

    params = list(encoder.parameters()) + list(decoder.parameters())
    optimizer = torch.optim.Adam(params, lr=args.lr)

    stop = {"asked": False}

    def on_sigint(signum, frame):
        if stop["asked"]:
            raise KeyboardInterrupt
        stop["asked"] = True
        print("\nCtrl-C: stopping after this batch (again to abort)", file=sys.stderr, flush=True)

    signal.signal(signal.SIGINT, on_sigint)

    history = []
    epochs_done = 0
    encoder.train()
    decoder.train()
    for epoch in range(1, args.epochs + 1):
        t0 = time.time()
        order = torch.from_numpy(order_rng.permutation(count))
        total, seen = 0.0, 0
        for start in range(0, count, args.batch):
            x = images[order[start:start + args.batch]]
            mu, logvar = encoder(x)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            recon = decoder(z)
            bce = F.binary_cross_entropy(recon, x, reduction="sum")
            kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            loss = bce + kl
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
            seen += x.shape[0]
            batches = start // args.batch + 1
            if batches % 50 == 0:
                print(f"  {seen}/{count} images, loss {total / seen:.2f}, {time.time() - t0:.0f} s", flush=True)
            if stop["asked"]:
                break
        mean = total / seen
        history.append({"epoch": epoch, "images": seen, "loss": round(mean, 3), "seconds": round(time.time() - t0, 1)})
        print(f"epoch {epoch}/{args.epochs}: loss {mean:.2f} per image (BCE + KL), {time.time() - t0:.1f} s"
              + (f" (interrupted after {seen} images)" if stop["asked"] else ""), flush=True)
        if stop["asked"]:
            break
        epochs_done = epoch

    # Ctrl-C from here on aborts at once; the files below are written under a temporary name first.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    pt = os.path.join(args.out, "decoder.pt")
    save_atomically(pt, lambda p: torch.save(decoder.state_dict(), p))

    # The README's snippet, all of it, in --out: it loads decoder.pt and writes decoder.onnx.
    cwd = os.getcwd()
    os.chdir(args.out)
    try:
        exec(compile(snippet, "docs/IMPORT.md (snippet)", "exec"), {"__name__": "readme_snippet"})
    finally:
        os.chdir(cwd)
    onnx_path = os.path.join(args.out, "decoder.onnx")

    wall = time.time() - started
    summary = {
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        "torch": torch.__version__, "threads": torch.get_num_threads(), "seed": args.seed,
        "epochs": args.epochs, "train_images": count, "epochs_completed": epochs_done, "interrupted": stop["asked"],
        "batch": args.batch, "lr": args.lr, "history": history,
        "final_train_loss": history[-1]["loss"] if history else None,
        "wall_seconds": round(wall, 1),
        "files": {name: os.path.getsize(os.path.join(args.out, name)) for name in ("decoder.pt", "decoder.onnx")},
    }
    save_atomically(os.path.join(args.out, "train.json"),
                    lambda p: open(p, "w").write(json.dumps(summary, indent=2) + "\n"))
    print(f"wrote {pt} ({summary['files']['decoder.pt']} bytes) and {onnx_path} "
          f"({summary['files']['decoder.onnx']} bytes) with the README's export lines; {wall:.1f} s in all",
          flush=True)
    if stop["asked"]:
        sys.exit(130)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("aborted", file=sys.stderr)
        sys.exit(130)
