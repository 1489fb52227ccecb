"""Overhead and memory of `smooth` (issue: estimators). Ratios are taken in one run, on one machine.

    python bench/bench_smoothing.py [--device cpu|cuda] [--out bench/results]

1. overhead ratio = time(smooth forward + backward) / time(f alone on the same number of perturbed inputs), the median
   of 61 alternated pairs, for
   a cheap f (hard-sort permutation matrix, batch 100, 1024 samples, n = 5) and a costly f (a per-sample iterative
   solve), for each sampler;
2. peak memory of smooth forward + backward with 32768 samples, with and without `chunk_size`, for an f with large
   intermediates (each config in a fresh process on CPU: peak RSS; on CUDA: max_memory_allocated).
Writes `smoothing_<device>.json` and `smoothing_<device>.md` into --out.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from gss_nbdev.smoothing import smooth  # noqa: E402
from gss_nbdev.sampling import sample_noise, SAMPLERS  # noqa: E402
from gss_nbdev.algorithms.sorting import sort_permutation  # noqa: E402
from _report import machine_info, write_report  # noqa: E402


def costly(z: torch.Tensor) -> torch.Tensor:
    "A black box whose cost dominates: 200 fixed-point iterations of a small nonlinear map per sample, then a threshold."
    h = z
    for _ in range(200):
        h = torch.tanh(1.5 * h.roll(1, -1) - 0.5 * h + 0.1)
    return (h > 0).to(z.dtype)


W = None
def wide(z: torch.Tensor) -> torch.Tensor:
    "A black box with large intermediates: a fixed 2048-unit random-feature layer, thresholded to 4 outputs."
    global W
    if W is None or W[0].device != z.device or W[0].dtype != z.dtype:
        g = torch.Generator().manual_seed(0)
        W = (torch.randn(z.shape[-1], 2048, generator=g).to(z), torch.randn(2048, 4, generator=g).to(z))
    return (torch.relu(z @ W[0]) @ W[1] > 0).to(z.dtype)


def timeit(fns, device, repeat=21):
    "Per-round wall times of each of `fns`, run in alternation so that drifts in machine load hit all of them alike."
    for fn in fns: fn(); fn()
    times = [[] for _ in fns]
    for _ in range(repeat):
        for fn, ts in zip(fns, times):
            if device.type == 'cuda': torch.cuda.synchronize()
            t0 = time.perf_counter(); fn()
            if device.type == 'cuda': torch.cuda.synchronize()
            ts.append(time.perf_counter() - t0)
    return times


def overhead(f, batch, n, s, device, sampler):
    x = torch.randn(batch, n, device=device, requires_grad=True)
    gen = torch.Generator(device=device).manual_seed(0)
    z = x.detach()[:, None, :] + sample_noise('gaussian', s, n, batch_shape=(batch,), generator=gen, device=device)
    def f_alone():
        with torch.no_grad(): f(z)
    def smooth_fb():
        out = smooth(f, x, n_samples=s, sampler=sampler, generator=gen)
        out.sum().backward()
    tf, ts = timeit([f_alone, smooth_fb], device, repeat=61)
    ratio = statistics.median(b / a for a, b in zip(tf, ts))       # paired rounds: a load spike hits both of a pair
    return dict(f=getattr(f, '__name__', 'f'), batch=batch, n=n, samples=s, sampler=sampler, t_f_ms=1e3 * statistics.median(tf),
                t_smooth_ms=1e3 * statistics.median(ts), ratio=ratio)


def memory_child(chunk, device):
    "Run in a fresh process: peak memory of smooth fwd+bwd, 32768 samples of `wide`, batch 8, n = 16."
    device = torch.device(device)
    x = torch.randn(8, 16, device=device, requires_grad=True)
    wide(x[:, None, :1].expand(8, 1, 16).contiguous())  # build the weights before measuring
    if device.type == 'cuda':
        torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats(); base = torch.cuda.memory_allocated()
    else:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out = smooth(wide, x, n_samples=32768, sampler='mc', chunk_size=chunk, generator=torch.Generator(device=device).manual_seed(0))
    out.sum().backward()
    if device.type == 'cuda':
        torch.cuda.synchronize(); peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
    print(json.dumps(dict(chunk_size=chunk, peak_mib=peak / 2 ** 20)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--out', type=Path, default=Path(__file__).parent / 'results')
    ap.add_argument('--_memory', nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a._memory:
        return memory_child(None if a._memory[0] == 'none' else int(a._memory[0]), a._memory[1])
    device = torch.device(a.device)
    if device.type == 'cuda' and not torch.cuda.is_available(): sys.exit('--device cuda: CUDA is not available here')
    torch.manual_seed(0)
    rows = []
    for sampler in SAMPLERS:                                         # 1024 = 4**5: the Cartesian grids fit too
        rows.append(overhead(sort_permutation, 100, 5, 1024, device, sampler))
        print(rows[-1], flush=True)
    rows.append(overhead(costly, 100, 5, 1024, device, 'rqmc-latin'))
    print(rows[-1], flush=True)
    mem = []
    for chunk in ('none', '4096', '1024'):
        r = subprocess.run([sys.executable, __file__, '--_memory', chunk, str(device)], capture_output=True, text=True, check=True)
        mem.append(json.loads(r.stdout.strip().splitlines()[-1]))
        print(mem[-1], flush=True)
    md = ['| f | batch × samples × n | sampler | f alone (ms) | smooth fwd+bwd (ms) | overhead ratio |', '|---|---|---|---|---|---|']
    md += [f"| {r['f']} | {r['batch']} × {r['samples']} × {r['n']} | {r['sampler']} | {r['t_f_ms']:.2f} | {r['t_smooth_ms']:.2f} | {r['ratio']:.2f} |" for r in rows]
    md += ['', '| 32768 samples of `wide` (batch 8, n = 16) | peak memory (MiB) |', '|---|---|']
    md += [f"| chunk_size = {m['chunk_size']} | {m['peak_mib']:.0f} |" for m in mem]
    write_report(a.out, f'smoothing_{device.type}', machine_info(device), dict(overhead=rows, memory=mem), md)

if __name__ == '__main__':
    main()
