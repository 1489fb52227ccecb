"""Evaluating an expensive per-sample black box on Dask (issue: expensive black boxes), all measured in one run.

    python bench/bench_evaluators.py [--samples 16] [--repeats 3] [--out bench/results]

1. Scaling: evaluations per second of `sensor_trip_tick` (a PDE solve, ~0.15-0.2 s per call) on a LocalCluster with one
   and with two single-threaded worker processes, and in this process without Dask; efficiency = rate(2) / (2 rate(1)).
2. The estimator's own share of a step: `smooth` forward + backward with the 2-worker evaluator, where the time spent
   inside the evaluator is recorded; the rest (noise, checks, estimator) is the estimator's overhead.
3. Dask's per-task overhead for a cheap f (z.sum()), 1024 samples, with samples_per_task 1 and 64.
Repeated measurements alternate between the settings and report medians.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from gss_nbdev.evaluators import DaskEvaluator, SerialEvaluator, sensor_trip_tick  # noqa: E402
from gss_nbdev.smoothing import smooth  # noqa: E402
from _report import machine_info, write_report  # noqa: E402


def loss(u): return (sensor_trip_tick(u) / 100 - 0.5) ** 2
def cheap(z): return z.sum()


class Timed:
    "Wrap an evaluator and add up the time spent inside it."
    def __init__(self, ev): self.ev, self.spent = ev, 0.0
    def __call__(self, f, z):
        t0 = time.perf_counter()
        try: return self.ev(f, z)
        finally: self.spent += time.perf_counter() - t0


def clock(fn):
    t0 = time.perf_counter(); fn(); return time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--samples', type=int, default=16, help='evaluations per measured step (default 16)')
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--out', type=Path, default=Path(__file__).resolve().parent / 'results')
    a = ap.parse_args(argv)
    torch.manual_seed(0)
    Z = torch.stack([torch.empty(a.samples).uniform_(1.0, 3.0), torch.empty(a.samples).uniform_(0.5, 0.8)], -1).double()
    serial = SerialEvaluator()
    serial(sensor_trip_tick, Z[:2])                                            # scipy's first import
    times = {'serial': [], 1: [], 2: []}
    with DaskEvaluator(n_workers=1) as one, DaskEvaluator(n_workers=2) as two:
        for ev in (one, two): ev(sensor_trip_tick, Z[:4])                     # warm the workers (imports)
        for _ in range(a.repeats):
            times['serial'].append(clock(lambda: serial(sensor_trip_tick, Z)))
            times[1].append(clock(lambda: one(sensor_trip_tick, Z)))
            times[2].append(clock(lambda: two(sensor_trip_tick, Z)))
        one.close()
        # 2. the estimator's share of a smoothing step on the 2-worker cluster
        shares = []
        u = torch.tensor([1.2, 0.6], dtype=torch.float64, requires_grad=True)
        for r in range(a.repeats):
            timed = Timed(two)
            t = clock(lambda: smooth(loss, u, scale=0.1, n_samples=a.samples, sampler='rqmc-sobol', evaluator=timed,
                                     generator=torch.Generator().manual_seed(r)).backward())
            shares.append(dict(step=t, inside=timed.spent, own=t - timed.spent))
        # 3. per-task overhead with a cheap f
        zc = torch.randn(1024, 3, dtype=torch.float64)
        per = {1: [], 64: []}
        evs = {k: DaskEvaluator(client=two.client, samples_per_task=k) for k in per}
        for ev in evs.values(): ev(cheap, zc[:8])
        for _ in range(a.repeats):
            for k, ev in evs.items(): per[k].append(clock(lambda: ev(cheap, zc)))

    med = {k: statistics.median(v) for k, v in times.items()}
    rate = {k: a.samples / t for k, t in med.items()}
    eff = rate[2] / (2 * rate[1])
    cost = med['serial'] / a.samples
    step = statistics.median(s['step'] for s in shares)
    own = statistics.median(s['own'] for s in shares)
    task_ms = {k: 1e3 * statistics.median(v) / (1024 / k) for k, v in per.items()}
    eval_ms = {k: 1e3 * statistics.median(v) / 1024 for k, v in per.items()}
    md = ["**Scaling** (`sensor_trip_tick`, a stiff PDE solve; "
          f"{a.samples} evaluations per measurement, median of {a.repeats}):", '',
          '| where f runs | seconds | evaluations / s | vs 1 Dask worker |', '|---|---:|---:|---:|',
          f"| this process (`SerialEvaluator`) | {med['serial']:.2f} | {rate['serial']:.2f} | {rate['serial'] / rate[1]:.2f} |",
          f"| LocalCluster, 1 worker | {med[1]:.2f} | {rate[1]:.2f} | 1.00 |",
          f"| LocalCluster, 2 workers | {med[2]:.2f} | {rate[2]:.2f} | {rate[2] / rate[1]:.2f} |", '',
          f"Scaling efficiency from 1 to 2 workers: **{eff:.2f}** (ideal 1). One call costs {cost:.3f} s in this process.", '',
          f"**The estimator's own share** of a `smooth` step (forward + backward, {a.samples} samples, 2 workers): "
          f"{1e3 * own:.1f} ms of {step:.2f} s = **{100 * own / step:.2f} %**; the rest is waiting for the evaluations.", '',
          "**Per-task overhead** (cheap f = `z.sum()`, 1024 samples, 2 workers):", '',
          '| samples_per_task | tasks | ms per task | ms per evaluation |', '|---:|---:|---:|---:|',
          *[f"| {k} | {1024 // k} | {task_ms[k]:.2f} | {eval_ms[k]:.3f} |" for k in per]]
    data = dict(samples=a.samples, seconds={str(k): v for k, v in times.items()}, efficiency=eff, cost_per_call=cost,
                estimator_share=shares, per_task_seconds={str(k): v for k, v in per.items()})
    write_report(a.out, 'evaluators_cpu', machine_info(torch.device('cpu')), data, md,
                 note='Worker processes are single-threaded; the machine has 2 cores, so 2 workers use all of it.')


if __name__ == '__main__':
    main()
