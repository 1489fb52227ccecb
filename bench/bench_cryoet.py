"""The cryo-ET simulator on Dask: seconds per simulation, scaling from one to two workers, the estimator's share.

    python bench/bench_cryoet.py [--out bench/results] [--paper]

1. seconds per micrograph in this process, at quick scale (64×64 pixels of 4 Å) and, with --paper, at paper scale
   (400×400 pixels of 1 Å on a 0.5 Å wave grid, an 18,000-atom helix);
2. simulations per second through `DaskEvaluator` on a LocalCluster of 1 and of 2 single-threaded workers (128
   simulations, the best of three rounds, after every worker has built its potential), and the scaling efficiency
   rate₂ / (2 · rate₁) — with one simulation a Dask task, and with the quick preset's `samples_per_task`;
3. the estimator's own share of a GSS step (4 repeats × 4 samples, Laplace, RQMC latin, LOO): the step's time minus the
   time spent inside the evaluator, as a fraction of the step.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from gss_nbdev.algorithms.tem import micrograph  # noqa: E402
from gss_nbdev.evaluators import DaskEvaluator  # noqa: E402
from gss_nbdev.experiments.cryoet import PRESETS, _setup, _target, starts, Parameters, gss_step  # noqa: E402
from gss_nbdev.spec import SmoothingSpec  # noqa: E402
from _report import machine_info, write_report  # noqa: E402


def per_simulation(cfg, n=5):
    specimen, microscope = _setup(cfg)
    micrograph(specimen=specimen, microscope=microscope)                  # the potential, built once
    t0 = time.perf_counter()
    for k in range(n): micrograph(300.0 + k, 3.0, 0.1 * k, 0.0, specimen, microscope)
    return (time.perf_counter() - t0) / n


class Timed:
    "An evaluator that records the time spent inside it."
    def __init__(self, ev): self.ev, self.seconds = ev, 0.0
    def __call__(self, f, z):
        t0 = time.perf_counter(); out = self.ev(f, z); self.seconds += time.perf_counter() - t0; return out


def estimator_share(ev, loss, steps=5):
    "Seconds of a GSS step (4 repeats × 4 samples on `ev`) and the share of it spent outside the evaluator."
    timed = Timed(ev)
    model = Parameters(starts('2param', 4, seed=5)[:, 0])
    spec = SmoothingSpec('laplace', 1.0, 4, 'rqmc-latin', 'loo', smoothing='loss')
    gss_step(spec, model.theta, loss, timed, 0, 100, 0.05, torch.Generator().manual_seed(0))      # warm-up
    timed.seconds, t0 = 0.0, time.perf_counter()
    for t in range(steps):
        gss_step(spec, model.theta, loss, timed, t, 100, 0.05, torch.Generator().manual_seed(1)).backward()
    step = (time.perf_counter() - t0) / steps
    return step, 1 - timed.seconds / steps / step


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', type=Path, default=Path(__file__).parent / 'results')
    ap.add_argument('--paper', action='store_true', help='also time one paper-scale micrograph')
    a = ap.parse_args(argv)
    cfg = PRESETS['quick']
    rows = [dict(what='one micrograph in this process, quick scale (64×64, 4 Å pixels)', value=per_simulation(cfg),
                 unit='s')]
    if a.paper:
        rows.append(dict(what='one micrograph in this process, paper scale (400×400, 1 Å pixels)',
                         value=per_simulation(PRESETS['paper'], n=2), unit='s'))
    print(rows, flush=True)
    loss = _target('2param', cfg)
    z = starts('2param', 1, seed=3, n=128)[0]
    for spt in sorted({1, cfg.samples_per_task}):
        rates = {}
        for workers in (1, 2):
            ev = DaskEvaluator(n_workers=workers, samples_per_task=spt)
            try:
                ev(loss, z[:8 * workers])                                  # every worker builds its potential
                best = 0.0
                for _ in range(3):                                         # the best of three rounds
                    t0 = time.perf_counter(); ev(loss, z); best = max(best, len(z) / (time.perf_counter() - t0))
                rates[workers] = best
                if workers == 2 and spt == cfg.samples_per_task:
                    step, share = estimator_share(ev, loss)
            finally: ev.close()
            rows.append(dict(what=f'simulations per second, LocalCluster of {workers} worker(s), {spt} a task',
                             value=rates[workers], unit='1/s'))
            print(rows[-1], flush=True)
        rows.append(dict(what=f'scaling efficiency 1 → 2 workers, {spt} simulation(s) a task',
                         value=rates[2] / (2 * rates[1]), unit=''))
    rows.append(dict(what=f'a GSS step (16 simulations on 2 workers, {cfg.samples_per_task} a task)', value=step,
                     unit='s'))
    rows.append(dict(what="the estimator's own share of that step", value=share, unit=''))
    md = ['| measurement | value |', '|---|---|']
    md += [f"| {r['what']} | {r['value']:.4g} {r['unit']} |" for r in rows]
    write_report(a.out, 'cryoet_cpu', machine_info(torch.device('cpu')), dict(rows=rows), md,
                 note='abTEM 1.0.11, the helix of the quick preset; paper scale: the paper preset.')


if __name__ == '__main__':
    main()
