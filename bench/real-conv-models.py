"""The full-size DCGAN generator of pytorch/examples (nz 100, ngf 64, nc 3; 1x1 -> 64x64x3), exported
to ONNX as scripts/torch-fixtures.py exports its shrunk fixture (ngf 16): same class, seeding, norms
and calibration, only ngf differs. The fixture file stays small for CI; the benchmark of issue 23
(bench/real-conv.ts) needs the real size, 104 M multiply-adds a sample.

    /usr/bin/python3 bench/real-conv-models.py            # writes bench/tmp/dcgan-64.{onnx,bin,json}
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
args = ap.parse_args()
os.makedirs(args.out, exist_ok=True)
fx = dict(name=f"dcgan-{args.ngf}", family="dcgan", description=fixtures.DCGAN_DESC.format(ngf=args.ngf),
          build=lambda: fixtures.DcganGenerator(ngf=args.ngf), inputs=[fixtures.L("z", 100, 1, 1)], output="x",
          opset=17, batch=2, range=[-1, 1], seed=f"dcgan-{args.ngf}", calib=None, last_std=1.0)
r = fixtures.build_one(fx, args.out)
print(f"{r['name']}: onnx {r['onnx_size']:,} bytes, output {r['output']}, y in [{r['ymin']:.3f}, {r['ymax']:.3f}]")
