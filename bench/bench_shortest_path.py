"""Throughput of the batched shortest-path solver (the variance study and the Warcraft benchmark), all measured in one run.

    python bench/bench_shortest_path.py [--device cpu|cuda] [--out bench/results]

10 000 perturbed Warcraft-like 12×12 and 30×30 maps (generated terrain + smoothing noise; path extraction included),
solved by `shortest_path` as it runs on the device (the compiled kernel on a CPU with Numba, the torch sweeps otherwise)
and by the torch sweeps alone, against a per-map heap Dijkstra in Python and scipy's compiled Dijkstra called per map (the sparsity pattern built once,
only the weights per map); float32 and float64; then how the time grows with the grid (12 → 24 → 48) and the batch. The per-map references are timed on a subset and scaled.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from gss_nbdev.algorithms.shortest_path import shortest_path, dijkstra_grid, _NEIGHBOURS  # noqa: E402
from _report import machine_info, write_report  # noqa: E402


def scipy_solver(H, W):
    "scipy's Dijkstra per map, with the graph's structure built once (only the weights change per map)."
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra
    idx = np.arange(H * W).reshape(H, W)
    src, dst = [], []
    for di, dj in _NEIGHBOURS:
        src.append(idx[max(0, -di):H - max(0, di), max(0, -dj):W - max(0, dj)].ravel())
        dst.append(idx[max(0, di):H + min(0, di), max(0, dj):W + min(0, dj)].ravel())
    src, dst = np.concatenate(src), np.concatenate(dst)
    def solve(c):
        g = csr_matrix((c.ravel()[dst], (src, dst)), shape=(H * W, H * W))
        d, pred = dijkstra(g, indices=0, return_predecessors=True)
        node, path = H * W - 1, [H * W - 1]
        while node != 0: node = pred[node]; path.append(node)
        return c[0, 0] + d[-1], path
    return solve


def best_of(fn, repeat=3):
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
    return min(ts)


def sync(device):
    if device.type == 'cuda': torch.cuda.synchronize()


def time_batched(C, device, dtype, repeat=5, backend='auto'):
    Ct = torch.tensor(C, dtype=dtype, device=device)
    shortest_path(Ct[:16], backend=backend); sync(device)          # the first call compiles (numba) or warms up (CUDA)
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter(); shortest_path(Ct, backend=backend); sync(device); ts.append(time.perf_counter() - t0)
    return min(ts)                      # best of `repeat`, as timeit advises: the least disturbed run


def auto_backend(device):
    from gss_nbdev.algorithms import shortest_path as sp
    return 'numba' if device.type == 'cpu' and sp.numba is not None else 'torch'


def maps(n, k, rng):
    "Warcraft-like training inputs: generated terrain costs plus Gaussian smoothing noise (γ = 1/3), floored."
    from gss_nbdev.datasets.warcraft import terrain_map, TERRAINS
    g = torch.Generator().manual_seed(int(rng.integers(1 << 31)))
    w = torch.tensor([t.cost for t in TERRAINS], dtype=torch.float64)[terrain_map(n, k, g)].numpy()
    return np.maximum(w + rng.normal(0, 1 / 3, size=w.shape), 1e-3)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--out', type=Path, default=Path(__file__).parent / 'results')
    a = ap.parse_args(argv)
    device = torch.device(a.device)
    if device.type == 'cuda' and not torch.cuda.is_available(): sys.exit('--device cuda: CUDA is not available here')
    rng = np.random.default_rng(0)
    N = 10_000
    rows = []
    for k in (12, 30):
        C = maps(N, k, rng)
        sub = C[:100]
        ref = [dijkstra_grid(c) for c in sub]
        solve = scipy_solver(k, k)
        t_py = best_of(lambda: [dijkstra_grid(c) for c in sub]) / len(sub) * N        # best of 3, like the solver
        t_sp = best_of(lambda: [solve(c) for c in sub]) / len(sub) * N
        got = shortest_path(torch.tensor(sub)).numpy()
        assert np.allclose((got * sub).sum((1, 2)), [r[0] for r in ref]), 'batched solver disagrees with Dijkstra'
        for dtype in (torch.float32, torch.float64):
            t = time_batched(C, device, dtype)                              # what `shortest_path` picks here
            t_sw = time_batched(C, device, dtype, backend='torch')           # the batched torch sweeps
            rows.append(dict(grid=f'{k}×{k}', maps=N, dtype=str(dtype).replace('torch.', ''), backend=auto_backend(device),
                             t_batched_s=t, t_torch_sweeps_s=t_sw, t_python_dijkstra_s=t_py, t_scipy_per_map_s=t_sp,
                             speedup_vs_python=t_py / t, speedup_vs_scipy=t_sp / t, sweeps_speedup_vs_scipy=t_sp / t_sw))
            print(rows[-1], flush=True)
    scaling = []
    for H in (12, 24, 48):
        for n in (1_000, 10_000):
            Cg = np.maximum(rng.normal(5, 2.5, size=(n, H, H)), 1e-3)
            t = time_batched(Cg, device, torch.float32, repeat=3)
            scaling.append(dict(grid=f'{H}×{H}', maps=n, t_s=t, us_per_map=1e6 * t / n))
            print(scaling[-1], flush=True)
    md = ['| 10 000 maps | dtype | `shortest_path` (s) | backend | torch sweeps (s) | Python Dijkstra (s) | scipy per map (s) '
          '| × Python | × scipy | torch sweeps × scipy |', '|---|---|---|---|---|---|---|---|---|---|']
    md += [f"| {r['grid']} | {r['dtype']} | {r['t_batched_s']:.3f} | {r['backend']} | {r['t_torch_sweeps_s']:.3f} | "
           f"{r['t_python_dijkstra_s']:.2f} | {r['t_scipy_per_map_s']:.2f} | {r['speedup_vs_python']:.0f} | "
           f"{r['speedup_vs_scipy']:.0f} | {r['sweeps_speedup_vs_scipy']:.0f} |" for r in rows]
    md += ['', f'Scaling on N(5, 2.5²) costs (float32, {auto_backend(device)}):', '', '| grid | maps | time (s) | µs per map |', '|---|---|---|---|']
    md += [f"| {r['grid']} | {r['maps']} | {r['t_s']:.3f} | {r['us_per_map']:.1f} |" for r in scaling]
    write_report(a.out, f'shortest_path_{device.type}', machine_info(device), dict(throughput=rows, scaling=scaling), md,
                 note=f'Inputs: generated Warcraft terrain costs + N(0, 1/9) noise, floored at 1e-3. Python and scipy '
                      f'Dijkstra (path extraction included) timed per map on 100 maps, scaled to {N}; every time is the best of 3–5 runs.')

if __name__ == '__main__':
    main()
