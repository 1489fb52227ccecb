"""Cost of GSS in the sorting benchmark (issue: MNIST sorting). Ratios are taken in one run, on one machine.

    python bench/bench_sorting.py [--device cpu|cuda] [--batch 100] [--out bench/results]

1. step ratio = time(one training step with GSS at s samples) / time(one training step with NeuralSort), batch 100
   sets of n = 5 four-digit images, the App. D CNN, Adam: the median of paired, alternated rounds; s ∈ {256, 1024}
   (and 32768 on CUDA);
2. the sorting + smoothing part alone: `smooth(sort_permutation, scores)` forward + backward on (batch, 5) scores, in µs
   per set.
Writes `sorting_<device>.json` and `sorting_<device>.md` into --out.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from gss_nbdev.experiments.harness import Method  # noqa: E402
from gss_nbdev.experiments.sorting import SortingCNN, sorting_loss  # noqa: E402
from gss_nbdev.spec import SmoothingSpec  # noqa: E402
from gss_nbdev.smoothing import smooth  # noqa: E402
from gss_nbdev.algorithms.sorting import sort_permutation  # noqa: E402
from _report import machine_info, write_report  # noqa: E402
from bench_smoothing import timeit  # noqa: E402


def step_fn(m: Method, batch: int, device, seed=0):
    "One Adam step of the CNN on a fixed random batch (the data pipeline is the same for every method)."
    torch.manual_seed(seed)
    model = SortingCNN().to(device)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    x = torch.rand(batch, 5, 1, 28, 112, device=device)
    v = torch.randint(0, 10_000, (batch, 5), device=device)
    g = torch.Generator(device=device).manual_seed(seed)
    def step():
        loss = sorting_loss(m, model(x), v, g)
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
    return step


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--batch', type=int, default=100)
    ap.add_argument('--repeat', type=int, default=7)
    ap.add_argument('--out', type=Path, default=Path(__file__).parent / 'results')
    a = ap.parse_args()
    device = torch.device(a.device)
    counts = (256, 1024) + ((32768,) if device.type == 'cuda' else ())
    gss = {s: Method('gss', SmoothingSpec('logistic', 1.0, s)) for s in counts}
    base = step_fn(Method('neuralsort', param=1.0), a.batch, device)
    fns = [base] + [step_fn(m, a.batch, device) for m in gss.values()]
    times = timeit(fns, device, repeat=a.repeat)
    steps = [dict(n_samples=s, t_neuralsort_ms=1e3 * statistics.median(times[0]),
                  t_gss_ms=1e3 * statistics.median(t), steps_per_s=1 / statistics.median(t),
                  ratio=statistics.median(b / c for c, b in zip(times[0], t)))
             for s, t in zip(counts, times[1:])]
    alone = []
    for s in counts:
        scores = torch.randn(a.batch, 5, device=device, requires_grad=True)
        g = torch.Generator(device=device).manual_seed(0)
        def part():
            smooth(sort_permutation, scores, dist='logistic', n_samples=s, generator=g).sum().backward()
        (t,) = timeit([part], device, repeat=max(a.repeat, 11))
        alone.append(dict(n_samples=s, us_per_set=1e6 * statistics.median(t) / a.batch))
    md = [f'One training step, batch {a.batch} sets of n = 5 (App. D CNN + Adam), GSS (logistic, RQMC latin, LOO) over '
          'NeuralSort, median of paired rounds:', '',
          '| samples | NeuralSort step (ms) | GSS step (ms) | GSS steps/s | ratio GSS / NeuralSort |', '|---|---|---|---|---|',
          *[f"| {r['n_samples']} | {r['t_neuralsort_ms']:.1f} | {r['t_gss_ms']:.1f} | {r['steps_per_s']:.2f} | "
            f"{r['ratio']:.3f} |" for r in steps], '',
          'The sorting + smoothing part alone (`smooth(sort_permutation, scores)` forward + backward):', '',
          '| samples | µs per set |', '|---|---|', *[f"| {r['n_samples']} | {r['us_per_set']:.1f} |" for r in alone]]
    write_report(a.out, f'sorting_{device.type}', machine_info(device), dict(steps=steps, smoothing_alone=alone), md)


if __name__ == '__main__':
    main()
