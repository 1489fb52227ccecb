"""A grid of tasks run in one process against the same grid fanned out on a LocalCluster of 2 workers (issue: experiments
as one family). Ratios are taken in one run, on one machine, rounds alternated.

    python bench/bench_fanout.py [--rounds 2] [--out bench/results]

Each grid runs `gss reproduce NAME --out TMP ...` to the end — serial (torch with every core), then `--workers 2` (one
torch thread per worker) — and the wall time of the whole command is taken, cluster start-up included. Writes
`fanout_cpu.json` and `fanout_cpu.md` into --out.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine_info, write_report  # noqa: E402

GSS = [sys.executable, '-c', 'import sys; from gss_nbdev.cli import main; sys.exit(main())']
FIXTURES = Path(__file__).resolve().parents[1] / 'tests' / 'fixtures'
GRIDS = {  # label -> (experiment, flags): independent tasks of a few seconds to a minute each
    'variance, quick preset (18 tasks)': ('variance', []),
    'sorting, 4 trainings of 150 steps': ('sorting', ['--mnist-dir', str(FIXTURES / 'mnist-mini'), '--set',
                                                      'methods=gss,neuralsort', '--set', 'seeds=0,1', '--set',
                                                      'steps=150', '--set', 'val_sets=50', '--set', 'test_sets=50']),
    'teapot, 4 configurations of 64 problems × 150 steps': ('teapot', ['--set', 'steps=150', '--set', 'methods=gss']),
}


def run(name: str, flags: list, workers: int | None) -> float:
    "Wall seconds of one `gss reproduce` to the end, in a fresh output folder."
    out = Path(tempfile.mkdtemp()) / 'o'
    cmd = [*GSS, 'reproduce', name, '--out', str(out), '--no-progress', *flags] + (['--workers', str(workers)] if workers else [])
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    shutil.rmtree(out.parent, ignore_errors=True)
    if r.returncode: raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stderr[-2000:]}")
    return seconds


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--rounds', type=int, default=2, help='alternated rounds per grid (the median is reported)')
    ap.add_argument('--out', type=Path, default=Path(__file__).parent / 'results')
    a = ap.parse_args(argv)
    rows = {}
    for label, (name, flags) in GRIDS.items():
        serial, fanned = [], []
        for _ in range(a.rounds):
            serial.append(run(name, flags, None)); fanned.append(run(name, flags, 2))
        s, f = statistics.median(serial), statistics.median(fanned)
        rows[label] = dict(serial_s=round(s, 1), workers2_s=round(f, 1), speedup=round(s / f, 2), rounds=a.rounds)
        print(label, rows[label], flush=True)
    md = ['| grid | serial (s) | `--workers 2` (s) | speed-up |', '|---|---|---|---|']
    md += [f"| {k} | {v['serial_s']} | {v['workers2_s']} | {v['speedup']} |" for k, v in rows.items()]
    write_report(a.out, 'fanout_cpu', machine_info(torch.device('cpu')), dict(grids=rows), md,
                 note=f'Median of {a.rounds} alternated rounds; wall time of the whole command, cluster start included.')


if __name__ == '__main__':
    main()
