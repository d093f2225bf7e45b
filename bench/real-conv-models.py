"""Full-size versions of two fixtures of scripts/torch-fixtures.py, exported to ONNX as it exports
them (same classes, seeding, norms and calibration, only the width differs): the DCGAN generator of
pytorch/examples (nz 100, ngf 64, nc 3; 1x1 -> 64x64x3, 104 M multiply-adds a sample) and the
TAESD-style decoder at its real 64 channels (latent 4x8x8 -> 64x64x3, about 1.1 G). The fixture
files stay small for CI; the benchmark of issue 23 (bench/real-conv.ts) needs the real sizes.

    /usr/bin/python3 bench/real-conv-models.py    # writes bench/tmp/dcgan-64.* and bench/tmp/taesd-64.*
"""
import argparse
import importlib.util
import os

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("torch_fixtures", os.path.join(here, "..", "scripts", "torch-fixtures.py"))
fixtures = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fixtures)

ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ap.add_argument("--out", default=os.path.join(here, "tmp"))
ap.add_argument("--ngf", type=int, default=64)
ap.add_argument("--taesd-channels", type=int, default=64)
args = ap.parse_args()
os.makedirs(args.out, exist_ok=True)
L = fixtures.L
models = [
    dict(name=f"dcgan-{args.ngf}", family="dcgan", description=fixtures.DCGAN_DESC.format(ngf=args.ngf),
         build=lambda: fixtures.DcganGenerator(ngf=args.ngf), inputs=[L("z", 100, 1, 1)], output="x",
         opset=17, batch=2, range=[-1, 1], seed=f"dcgan-{args.ngf}", calib=None, last_std=1.0),
    dict(name=f"taesd-{args.taesd_channels}", family="taesd", description=fixtures.TAESD_DESC.format(lc=4, hw=8, out=64),
         build=lambda: fixtures.TaesdDecoder(4, args.taesd_channels), inputs=[L("latent", 4, 8, 8)], output="image",
         opset=17, batch=2, range=[-1, 1], seed=f"taesd-{args.taesd_channels}", calib=None, last_std=0.5),
]
for fx in models:
    r = fixtures.build_one(fx, args.out)
    print(f"{r['name']}: onnx {r['onnx_size']:,} bytes, output {r['output']}, y in [{r['ymin']:.3f}, {r['ymax']:.3f}]")
