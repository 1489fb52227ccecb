"""The experiments as one family (issue: experiments as one family): every paper preset passes --dry-run with its task
count in closed form; a killed run resumes to the same numbers; a grid fanned out on a 2-worker LocalCluster gives the
serial run's results, also when a worker is killed mid-task; an unreachable or non-Dask scheduler is a bounded,
one-line error. One tiny grid per experiment, parametrized, instead of a copy of each test per experiment."""
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from cli_helpers import GSS, kill_when, strip_csv

FIXTURES = Path(__file__).parent / 'fixtures'
QUIET = ['--no-progress', '--set', 'checkpoint_every_s=0']
SETS = lambda **kw: [a for k, v in kw.items() for a in ('--set', f'{k}={v}')]

# each experiment: a tiny grid (flags), its per-step logs' folder, and the timing columns of its summary
TINY = {
    'sorting': ['--mnist-dir', str(FIXTURES / 'mnist-mini'), *SETS(methods='gss,neuralsort', seeds='0,1', batch=2,
                                                                   eval_every=5, val_sets=6, test_sets=6, steps=30)],
    'warcraft': [*SETS(methods='gss,fy,uniform', n_samples=4, batch=8, n_train=48, n_val=16, n_test=16, k=6, epochs=4,
                       decay_epochs='2,3', data_seed=7)],
    'teapot': ['--mesh', str(FIXTURES / 'teapot.obj'),
               *SETS(methods='gss,softras', smoothings='algorithm', extra='', problems=4, problem_chunk=2, size=20,
                     n_samples=8, eval_every=5, steps=40)],
    'cryoet': [*SETS(distributions='laplace', extra='', n_samples=4, simulations=24, repeats=2, mc_repeats=3, units=8,
                     radius=12, atoms_per_unit=10, blob=5, field_of_view=64, sampling=4, slice_thickness=16, pixel=8,
                     sim_workers=1)],
}
TIMING = ('seconds', 'samples_per_s', 'maps_per_s', 'renders_per_s', 'simulations_per_s')
LOG = {'sorting': 'train', 'warcraft': 'train', 'teapot': 'train', 'cryoet': 'train'}


def _sorted_rows(path):
    "The rows of a CSV without timing columns, in a fixed order (a fanned-out run appends them as tasks finish)."
    return sorted(tuple(sorted(r.items())) for r in strip_csv(path, TIMING))


def _one_thread():
    "An environment whose torch runs one thread: the arithmetic of a LocalCluster worker on 2 cores and 2 workers."
    return {**os.environ, 'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1'}


def _run(*args, env=None, timeout=900):
    return subprocess.run([*GSS, *args], capture_output=True, text=True, timeout=timeout, env=env)


# --- dry runs of the paper presets, in closed form ------------------------------------------------------------------
PAPER_TASKS = {
    # GSS 6 dist × 5 samplers × 3 cov × 5 #s × 3 γ, less Cartesian at 256/2048/8192 and Gumbel-antithetic; 26 relaxations
    'sorting': (6 * 5 * 3 * 5 * 3 - 6 * 3 * 3 * 3 - 3 * 5 * 3 + 5 + 5 + 3 * 4 + 4) * 12,
    # 2 smoothings × 4 #s × (6 × 4 × 3 × 5 − Gumbel-antithetic 3 × 5); Fig. 7 sweep 8 × 7 less 20 in the grid; FY 4 × 5;
    # blackbox 5; 5 seeds; uniform once
    'warcraft': 5 * (2 * 4 * (6 * 4 * 3 * 5 - 3 * 5) + 8 * 7 - 20 + 4 * 5 + 5) + 1,
    # 6 × 5 × 3 × 3 #s × 2 smoothings, less Cartesian at 64 and Gumbel-antithetic; SoftRas; none
    'teapot': 6 * 5 * 3 * 3 * 2 - 6 * 3 * 2 - 3 * 3 * 2 + 2,
    # 2 studies × (3 × 4 × 3 × 4 #s + MC search), less 4-parameter Cartesian at 9, 25, 36
    'cryoet': 2 * (3 * 4 * 3 * 4 + 1) - 3 * 3 * 3,
    'variance': (4 + 2) * 6,
    'flow': (3 + 5) * 9,
}


@pytest.mark.parametrize('name', sorted(PAPER_TASKS))
def test_every_paper_preset_passes_its_dry_run(name, tmp_path):
    r = _run('reproduce', name, '--scale', 'paper', '--dry-run', '--out', str(tmp_path / 'o'), timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith(f'{name} --scale paper: {PAPER_TASKS[name]} task(s), {PAPER_TASKS[name]} to run'), r.stdout
    assert 'estimated' in r.stdout and not (tmp_path / 'o').exists()


@pytest.mark.parametrize('name', sorted(PAPER_TASKS))
def test_every_medium_preset_plans_within_two_hours(name):
    from gss_nbdev.experiments.harness import plan
    p = plan(name, 'medium', check=False)
    assert p.seconds is not None and p.seconds <= 2 * 3600, (name, p.seconds / 3600)


# --- a killed run resumes to the same numbers -----------------------------------------------------------------------
@pytest.mark.parametrize('name', sorted(TINY))
def test_killed_run_resumes_to_the_same_numbers(name, tmp_path):
    args = [*TINY[name], *QUIET]
    ref = tmp_path / 'ref'
    r = _run('reproduce', name, '--out', str(ref), *args)
    assert r.returncode == 0, r.stderr[-2000:]
    logs = sorted((ref / LOG[name]).glob('*.csv'))
    out = tmp_path / 'killed'
    first = out / LOG[name] / logs[0].name
    kill_when(['reproduce', name, '--out', str(out), *args], first, 6, poll=0.02)
    done = strip_csv(out / 'summary.csv', TIMING) if (out / 'summary.csv').exists() else []
    assert len(done) < len(strip_csv(ref / 'summary.csv', TIMING)), 'the run finished before it could be killed'
    r = _run('reproduce', name, '--out', str(out), '--resume', *args)
    assert r.returncode == 0, r.stderr[-2000:]
    assert strip_csv(out / 'summary.csv', TIMING) == strip_csv(ref / 'summary.csv', TIMING)
    for f in logs: assert strip_csv(out / LOG[name] / f.name, TIMING) == strip_csv(f, TIMING), f.name
    r = _run('reproduce', name, '--out', str(out), '--resume', *args, '--set', 'seeds=5')
    assert r.returncode == 2 and 'differs in config.seeds' in r.stderr, r.stderr[-1000:]      # another config: refused
    from gss_nbdev.experiments.harness import clear_run
    clear_run(out); assert not any(out.iterdir())                          # checkpoints and logs are in the manifest


# --- fanned out on Dask ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize('name', sorted(TINY))
def test_two_workers_give_the_serial_results(name, tmp_path):
    args = [*TINY[name], *QUIET]
    r = _run('reproduce', name, '--out', str(tmp_path / 'serial'), *args, env=_one_thread())
    assert r.returncode == 0, r.stderr[-2000:]
    r = _run('reproduce', name, '--out', str(tmp_path / 'fan'), *args, '--workers', '2')
    assert r.returncode == 0, r.stderr[-2000:]
    assert _sorted_rows(tmp_path / 'fan' / 'summary.csv') == _sorted_rows(tmp_path / 'serial' / 'summary.csv')
    import json
    files = set(json.loads((tmp_path / 'fan' / '.gss-run.json').read_text())['files'])
    assert {p.relative_to(tmp_path / 'fan').as_posix() for p in (tmp_path / 'fan').rglob('*') if p.is_file()} \
        - {'.gss-run.json'} == files                                         # every file a worker wrote is listed
    assert json.loads((tmp_path / 'fan' / 'config.json').read_text())['runs'][-1]['workers'] == 2


def _worker_pids(pid):
    "The Dask worker processes below the `gss` process `pid` (the nannies' children)."
    import psutil
    return [c.pid for c in psutil.Process(pid).children(recursive=True)
            if 'spawn_main' in ' '.join(c.cmdline()) or 'forkserver' in ' '.join(c.cmdline())]


def test_a_killed_worker_costs_no_result(tmp_path):
    args = [*TINY['sorting'], *QUIET, '--set', 'steps=120', '--set', 'seeds=0']
    r = _run('reproduce', 'sorting', '--out', str(tmp_path / 'serial'), *args, env=_one_thread())
    assert r.returncode == 0, r.stderr[-2000:]
    out = tmp_path / 'fan'
    p = subprocess.Popen([*GSS, 'reproduce', 'sorting', '--out', str(out), *args, '--workers', '2'],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    logs, t0, killed = out / 'train', time.monotonic(), None
    while time.monotonic() - t0 < 300 and killed is None:                 # a task past its first checkpoint
        done = [f for f in logs.glob('*.csv') if len(f.read_text().splitlines()) > 40] if logs.exists() else []
        if done:
            pids = _worker_pids(p.pid)
            if pids: os.kill(pids[0], signal.SIGKILL); killed = pids[0]
        time.sleep(0.05)
    assert killed is not None, 'no worker was found to kill'
    stdout, stderr = p.communicate(timeout=600)
    assert p.returncode == 0, stderr[-3000:]
    assert _sorted_rows(out / 'summary.csv') == _sorted_rows(tmp_path / 'serial' / 'summary.csv')


def test_unreachable_and_non_dask_schedulers_are_bounded_one_line_errors(tmp_path):
    s = socket.socket(); s.bind(('127.0.0.1', 0)); silent = s.getsockname()[1]; s.close()
    srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(8); talker = srv.getsockname()[1]
    def babble():
        while True:
            try: c, _ = srv.accept()
            except OSError: return
            try: c.sendall(b'SSH-2.0-OpenSSH_9.0\r\n' + b'\xff' * 256)
            except OSError: pass
    threading.Thread(target=babble, daemon=True).start()
    t0 = time.monotonic()                               # what starting the CLI costs on this machine, under its load
    assert _run('reproduce', 'flow', '--out', str(tmp_path / 'dry'), '--dry-run').returncode == 0
    start_up = time.monotonic() - t0
    try:
        for port in (silent, talker):
            t0 = time.monotonic()
            r = _run('reproduce', 'flow', '--out', str(tmp_path / f'o{port}'), '--scheduler', f'tcp://127.0.0.1:{port}',
                     '--connect-timeout-s', '3', timeout=120)
            assert r.returncode == 2 and r.stderr.count('\n') == 1, r.stderr[-2000:]
            assert f"no Dask scheduler answered at 'tcp://127.0.0.1:{port}' within 3 s" in r.stderr, r.stderr
            assert time.monotonic() - t0 < start_up + 30, (time.monotonic() - t0, start_up)    # 3 s, not a hang
    finally: srv.close()
    r = _run('reproduce', 'flow', '--out', str(tmp_path / 'both'), '--scheduler', 'tcp://127.0.0.1:1', '--workers', '2')
    assert r.returncode == 2 and 'give --workers or --scheduler, not both' in r.stderr


def test_an_out_folder_the_workers_cannot_write_is_refused(tmp_path):
    from gss_nbdev.experiments.harness import _check_shared
    class FakeClient:                                                    # what client.run returns for two workers
        def run(self, fn, out): return {'tcp://a:1': None, 'tcp://b:2': 'PermissionError: Permission denied'}
    with pytest.raises(ValueError, match=r"Dask worker tcp://b:2 cannot write to `out` \(--out\)"):
        _check_shared(FakeClient(), tmp_path)
    from gss_nbdev.experiments.harness import _probe_out
    assert _probe_out(str(tmp_path)) is None and not any(tmp_path.iterdir())
    assert 'No such file' in _probe_out(str(tmp_path / 'missing'))


def test_a_cluster_says_when_it_is_ready(tmp_path):
    "With progress on, a fanned-out run says in one line that its workers are ready, and where the dashboard is."
    r = _run('reproduce', 'teapot', '--out', str(tmp_path / 'fan'), *TINY['teapot'], '--set', 'checkpoint_every_s=0',
             '--workers', '2')
    assert r.returncode == 0, r.stderr[-2000:]
    ready = [l for l in r.stderr.splitlines() if 'local Dask cluster started: 2 worker(s) ready in' in l]
    assert len(ready) == 1 and 'dashboard: http://127.0.0.1:' in ready[0], r.stderr[-2000:]
