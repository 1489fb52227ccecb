"The `gss` command end to end: the README's main job at the quick scale, refusing to overwrite, resuming, errors."
import csv
import subprocess

from cli_helpers import GSS, gss, kill_when


def test_list_and_bad_arguments(tmp_path):
    r = gss('reproduce', '--list')
    names = [line.split()[0] for line in r.stdout.splitlines() if line.strip()]
    assert r.returncode == 0 and {'variance', 'flow'} <= set(names)
    for args, msg in [(('reproduce', 'nope'), "unknown experiment 'nope'"), (('reproduce', 'variance', '--scale', 'x'), 'invalid choice'),
                      (('reproduce', 'variance', '--resume', '--force', '--out', str(tmp_path / 'o')), 'contradict')]:
        r = gss(*args)
        assert r.returncode == 2 and msg in r.stderr, (args, r.stderr)


# the quick preset's grid (every distribution, sampler, covariate) on smaller sizes and budgets: the notebook runs the
# quick scale itself; here the CLI's run, refusal and resume are what is tested
SMALL_VARIANCE = [a for kv in ('sorting=3', 'shortest_path=6', 'inputs=2', 'repetitions=4', 'n_samples=256',
                               'oracle_samples=4096', 'oracle_batches=2') for a in ('--set', kv)]


def test_quick_variance_run_then_refuse_then_resume(tmp_path):
    out = tmp_path / 'variance'
    r = gss('reproduce', 'variance', '--scale', 'quick', '--out', str(out), '--no-progress', *SMALL_VARIANCE)
    assert r.returncode == 0, r.stderr[-2000:]
    names = sorted(p.name for p in out.iterdir())
    assert names == ['.gss-run.json', 'config.json', 'variance_shortest_path.csv', 'variance_shortest_path.md', 'variance_shortest_path.png',
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
    r = gss('reproduce', 'variance', '--out', str(out), '--resume', '--no-progress', *SMALL_VARIANCE)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (out / 'variance_shortest_path.csv').read_text() == before
    assert (out / 'variance_sorting.csv').read_text() == ''.join(lines)    # seeded per task: the resumed run is identical
    assert (out / 'variance_sorting.png').exists()


def test_quick_flow_run(tmp_path):
    out = tmp_path / 'flow'
    r = gss('reproduce', 'flow', '--scale', 'quick', '--out', str(out), '--no-progress')
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ['.gss-run.json', 'config.json', 'flow_variance.csv', 'flow_variance.md', 'flow_variance.png']
    lines = (out / 'flow_variance.csv').read_text().splitlines()
    assert lines[0] == 'phi,sigma,estimator,samples,mean,reference,std,bias_se' and len(lines) == 1 + 18 * 7


# --- data safety (issue 21) ------------------------------------------------------------------------------------
def test_force_never_deletes_foreign_files(tmp_path):
    out = tmp_path / 'flow'
    assert gss('reproduce', 'flow', '--out', str(out), '--no-progress').returncode == 0
    (out / 'my-notes.txt').write_text('precious')
    r = gss('reproduce', 'flow', '--out', str(out), '--force', '--no-progress')
    assert r.returncode == 2 and "holds 1 file(s) that no run wrote (my-notes.txt); nothing was deleted" in r.stderr
    assert (out / 'my-notes.txt').read_text() == 'precious' and (out / 'flow_variance.csv').exists()
    (out / 'my-notes.txt').unlink()
    assert gss('reproduce', 'flow', '--out', str(out), '--force', '--no-progress').returncode == 0   # only its own files
    for folder in (tmp_path, ):                                       # a folder no run made: refused, untouched
        (folder / 'keep.txt').write_text('x')
        r = gss('reproduce', 'flow', '--out', str(folder), '--force')
        assert r.returncode == 2 and 'nothing was deleted' in r.stderr and (folder / 'keep.txt').exists()
    r = subprocess.run([*GSS, 'reproduce', 'flow', '--out', '.', '--force'], capture_output=True, text=True, cwd=out)
    assert r.returncode == 2 and 'it is the current folder' in r.stderr and (out / 'flow_variance.csv').exists()
    r = gss('reproduce', 'flow', '--out', str(out / 'flow_variance.csv'))
    assert r.returncode == 2 and r.stderr.count('\n') == 1 and 'is a file, not a folder' in r.stderr


def test_killed_run_resumes_with_nothing_lost(tmp_path):
    out = tmp_path / 'v'
    small = ['--set', 'distributions=gaussian,logistic,laplace', '--set', 'oracle_batches=4', '--set', 'repetitions=4']
    csv_file = out / 'variance_sorting.csv'
    kill_when(['reproduce', 'variance', '--out', str(out), '--no-progress', *small], csv_file, 3, poll=0.2)
    before = csv_file.read_text()
    assert len(before.splitlines()) >= 3, 'no rows were written before the kill'
    r = gss('reproduce', 'variance', '--out', str(out), '--resume', '--no-progress', *small)
    assert r.returncode == 0, r.stderr[-2000:]
    after = csv_file.read_text()
    assert after.startswith(before) and len(after.splitlines()) > len(before.splitlines())   # kept, then completed
    from gss_nbdev.experiments.harness import clear_run
    assert 'variance_sorting.csv' in clear_run(out) and not any(out.iterdir())   # a killed run is still recognised as ours


def _without(module, *args):
    "`gss ARGS…` in a Python where `module` cannot be imported (as on an install without its extra)."
    code = (f"import sys; sys.modules[{module!r}] = None; from gss_nbdev.cli import main; "
            f"sys.argv = ['gss', *{list(args)!r}]; sys.exit(main())")
    return subprocess.run([__import__('sys').executable, '-c', code], capture_output=True, text=True, timeout=300)


def test_a_missing_extra_is_named_before_any_task_runs(tmp_path):
    import time
    for module, name, extra in (('diffsort', 'sorting', 'sorting'), ('abtem', 'cryoet', 'cryoet')):
        out = tmp_path / name
        t0 = time.monotonic()
        r = _without(module, 'reproduce', name, '--out', str(out), '--no-progress')
        took = time.monotonic() - t0
        assert r.returncode == 2 and f"pip install 'gss_nbdev[{extra}]'" in r.stderr, r.stderr[-1500:]
        assert 'Traceback' not in r.stderr and r.stderr.count('\n') <= 2, r.stderr
        assert not (out / 'summary.csv').exists(), 'a task ran before the missing package was named'
        t0 = time.monotonic()
        r = _without(module, 'reproduce', name, '--dry-run', '--out', str(tmp_path / 'dry'))
        assert r.returncode == 2 and f"gss_nbdev[{extra}]" in r.stderr, r.stderr[-1500:]   # the dry run says it too
        assert took < time.monotonic() - t0 + 10, took                    # as fast as a dry run: nothing was started
    r = _without('distributed', 'reproduce', 'flow', '--workers', '2', '--out', str(tmp_path / 'flow'))
    assert r.returncode == 2 and "gss_nbdev[dask]" in r.stderr and 'Traceback' not in r.stderr, r.stderr[-1500:]
