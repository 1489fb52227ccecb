"The `gss` command end to end: the README's main job at the quick scale, refusing to overwrite, resuming, errors."
import csv
import os
import shutil
import subprocess
import sys

import pytest

GSS = [shutil.which('gss')] if shutil.which('gss') else [sys.executable, '-c', 'import sys; from gss_nbdev.cli import main; sys.exit(main())']


def gss(*args, timeout=600):
    return subprocess.run([*GSS, *args], capture_output=True, text=True, timeout=timeout)


def test_list_and_bad_arguments(tmp_path):
    r = gss('reproduce', '--list')
    names = [line.split()[0] for line in r.stdout.splitlines() if line.strip()]
    assert r.returncode == 0 and {'variance', 'flow'} <= set(names)
    for args, msg in [(('reproduce', 'nope'), "unknown experiment 'nope'"), (('reproduce', 'variance', '--scale', 'x'), 'invalid choice'),
                      (('reproduce', 'variance', '--resume', '--force', '--out', str(tmp_path / 'o')), 'contradict')]:
        r = gss(*args)
        assert r.returncode == 2 and msg in r.stderr, (args, r.stderr)


def test_quick_variance_run_then_refuse_then_resume(tmp_path):
    out = tmp_path / 'variance'
    r = gss('reproduce', 'variance', '--scale', 'quick', '--out', str(out), '--no-progress')
    assert r.returncode == 0, r.stderr[-2000:]
    names = sorted(p.name for p in out.iterdir())
    assert names == ['config.json', 'variance_shortest_path.csv', 'variance_shortest_path.md', 'variance_shortest_path.png',
                     'variance_sorting.csv', 'variance_sorting.md', 'variance_sorting.png']
    rows = list(csv.DictReader((out / 'variance_sorting.csv').open()))
    assert list(rows[0]) == ['task', 'size', 'distribution', 'sampler', 'covariate', 'antithetic', 'n_samples', 'l2_error',
                             'l2_error_se', 'oracle_se']
    assert {r['distribution'] for r in rows} == {'gaussian', 'logistic', 'gumbel', 'cauchy', 'laplace', 'triangular'}
    assert '**' in (out / 'variance_sorting.md').read_text()                  # the per-subplot minimum is bold
    before = (out / 'variance_shortest_path.csv').read_text()
    r = gss('reproduce', 'variance', '--out', str(out))                        # never overwrite silently
    assert r.returncode == 2 and 'already holds results' in r.stderr
    assert (out / 'variance_shortest_path.csv').read_text() == before
    # interrupt: drop all sorting rows but the first task's, and resume; the finished tasks are not recomputed
    lines = (out / 'variance_sorting.csv').read_text().splitlines(keepends=True)
    (out / 'variance_sorting.csv').write_text(''.join(lines[:1 + 24]))        # header + the 24 rows of (sorting, 3, gaussian)
    (out / 'variance_sorting.png').unlink()
    r = gss('reproduce', 'variance', '--out', str(out), '--resume', '--no-progress')
    assert r.returncode == 0, r.stderr[-2000:]
    assert (out / 'variance_shortest_path.csv').read_text() == before
    assert (out / 'variance_sorting.csv').read_text() == ''.join(lines)    # seeded per task: the resumed run is identical
    assert (out / 'variance_sorting.png').exists()


def test_quick_flow_run(tmp_path):
    out = tmp_path / 'flow'
    r = gss('reproduce', 'flow', '--scale', 'quick', '--out', str(out), '--no-progress')
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ['config.json', 'flow_variance.csv', 'flow_variance.md', 'flow_variance.png']
    lines = (out / 'flow_variance.csv').read_text().splitlines()
    assert lines[0] == 'phi,sigma,estimator,samples,mean,reference,std,bias_se' and len(lines) == 1 + 18 * 7
