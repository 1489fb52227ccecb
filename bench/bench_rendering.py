"""Throughput of the batched hard rasterizer and of the soft one (the teapot experiment), measured in one run.

    python bench/bench_rendering.py [--device cpu|cuda] [--out bench/results]

The Utah teapot (the committed copy of npm teapot@1.0.0, unit size), 64×64 silhouettes of 1024 cameras drawn as the
experiment draws them (random orientations, distances 2–10, view angles 10–30°): renders per second of `silhouette` in
float32 and float64, of the brute-force reference (every pixel against every triangle) on a few cameras, and of
`soft_silhouette` forward + backward at the baseline's σ. Every time is the best of 5 runs.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from gss_nbdev.algorithms.rendering import silhouette, soft_silhouette, silhouette_reference, camera_frame  # noqa: E402
from gss_nbdev.datasets.meshes import load_mesh  # noqa: E402
from _report import machine_info, write_report  # noqa: E402


def best(fn, device, repeat=5):
    fn()
    ts = []
    for _ in range(repeat):
        if device.type == 'cuda': torch.cuda.synchronize()
        t0 = time.perf_counter(); fn()
        if device.type == 'cuda': torch.cuda.synchronize()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def cameras(n, device, dtype, seed=0):
    "The experiment's views: a random orientation of the mesh, a distance in [2, 10] and a view angle in [10°, 30°]."
    g = torch.Generator().manual_seed(seed)
    u, phi = 2 * torch.rand(n, generator=g) - 1, 360 * torch.rand(n, generator=g)
    rot = camera_frame(torch.stack([torch.ones(n), torch.rad2deg(torch.asin(u)), phi, torch.full((n,), 20.)], -1))[0]
    th, psi = 15 + 60 * torch.rand(n, generator=g), 2 * math.pi * torch.rand(n, generator=g)
    cam = torch.stack([2 + 8 * torch.rand(n, generator=g), th * psi.sin(), th * psi.cos(), 10 + 20 * torch.rand(n, generator=g)], -1)
    return cam.to(device, dtype), rot.to(device, dtype)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--out', type=Path, default=Path(__file__).parent / 'results')
    a = ap.parse_args(argv)
    device = torch.device(a.device)
    if device.type == 'cuda' and not torch.cuda.is_available(): sys.exit('--device cuda: CUDA is not available here')
    v, f = load_mesh(ROOT / 'tests' / 'fixtures' / 'teapot.obj')
    rows = []
    batches = (1024, 16384) if device.type == 'cuda' else (1024,)
    for dtype in (torch.float32, torch.float64):
        vd, fd = v.to(device, dtype), f.to(device)
        for n in batches:
            cam, rot = cameras(n, device, dtype)
            t = best(lambda: silhouette(vd, fd, cam, 64, rotation=rot), device)
            rows.append(dict(what='silhouette', dtype=str(dtype).split('.')[-1], cameras=n, seconds=t, renders_per_s=n / t))
            print(rows[-1], flush=True)
        cam, rot = cameras(8, device, dtype)
        t = best(lambda: silhouette_reference(vd, fd, cam, 64, rotation=rot), device, repeat=2)
        rows.append(dict(what='brute-force reference', dtype=str(dtype).split('.')[-1], cameras=8, seconds=t, renders_per_s=8 / t))
        print(rows[-1], flush=True)
    vd, fd = v.to(device), f.to(device)
    for sigma in (1e-4, 1e-5):
        cam, rot = cameras(64, device, torch.float32)
        target = silhouette(vd, fd, cam, 64, rotation=rot)
        def step():
            c = cam.clone().requires_grad_()
            (soft_silhouette(vd, fd, c, 64, sigma=sigma, rotation=rot) - target).pow(2).mean().backward()
        t = best(step, device)
        rows.append(dict(what=f'soft_silhouette fwd+bwd, σ={sigma:g}', dtype='float32', cameras=64, seconds=t, renders_per_s=64 / t))
        print(rows[-1], flush=True)
    md = ['| renderer | dtype | cameras | seconds | renders / s |', '|---|---|---|---|---|']
    md += [f"| {r['what']} | {r['dtype']} | {r['cameras']} | {r['seconds']:.4f} | {r['renders_per_s']:,.0f} |" for r in rows]
    write_report(a.out, f'rendering_{device.type}', machine_info(device), dict(rows=rows), md,
                 note='The Utah teapot (992 triangles), 64×64 silhouettes, random views as in the experiment; best of 5 runs.')


if __name__ == '__main__':
    main()
