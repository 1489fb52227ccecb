"""The Warcraft benchmark (issue: Warcraft shortest path): the generator's format, determinism and optimal paths
(checked by an independent solver), the loader on a tiny folder in the original layout, every method's loss and
gradient, the CLI's errors, and a killed training that resumes to the same numbers. No network."""

import numpy as np
import pytest
import torch

from gss_nbdev.algorithms.shortest_path import scipy_grid_cost, shortest_path
from gss_nbdev.datasets.warcraft import (SPLITS, TERRAINS, generate_warcraft, load_warcraft_dir, tied_optimum,
                                         warcraft_data)
from gss_nbdev.experiments.harness import Method
from gss_nbdev.experiments.warcraft import METHODS, WarcraftNet, fy_spec, map_tensor, path_loss
from gss_nbdev.spec import SmoothingSpec
from cli_helpers import gss


def write_folder(folder, k=6, sizes=(64, 16, 16)):
    "A folder in the original layout, written with plain np.save (not the package's writer)."
    folder.mkdir(parents=True)
    for i, (split, n) in enumerate(zip(SPLITS, sizes)):
        d = generate_warcraft(n, k, seed=10 + i)
        np.save(folder / f'{split}_maps.npy', d['maps'])
        np.save(folder / f'{split}_vertex_weights.npy', d['vertex_weights'])
        np.save(folder / f'{split}_shortest_paths.npy', d['shortest_paths'])
    return folder


@pytest.mark.parametrize('k', [5, 12])
def test_generator_format_and_determinism(k):
    d = generate_warcraft(40, k, seed=3)
    assert d['maps'].shape == (40, 8 * k, 8 * k, 3) and d['maps'].dtype == np.uint8
    assert d['vertex_weights'].shape == (40, k, k) and d['vertex_weights'].dtype == np.float16
    assert d['shortest_paths'].shape == (40, k, k) and d['shortest_paths'].dtype == np.uint8
    assert set(np.unique(d['vertex_weights']).tolist()) <= set(np.float16([t.cost for t in TERRAINS]).tolist())
    again = generate_warcraft(40, k, seed=3)
    assert all(np.array_equal(d[f], again[f]) for f in d)
    assert not np.array_equal(d['maps'], generate_warcraft(40, k, seed=4)['maps'])


def test_every_stored_path_is_optimal_connected_and_unique():
    d = generate_warcraft(60, 12, seed=0)
    for w, p in zip(d['vertex_weights'].astype(np.float64), d['shortest_paths']):
        assert np.isclose((w * p).sum(), scipy_grid_cost(w), rtol=1e-12)      # scipy's Dijkstra, not our solver
        cells = set(zip(*np.nonzero(p)))
        assert (0, 0) in cells and (11, 11) in cells
        seen, todo = {(0, 0)}, [(0, 0)]                                        # the path is 8-connected
        while todo:
            i, j = todo.pop()
            for n in cells - seen:
                if max(abs(n[0] - i), abs(n[1] - j)) == 1: seen.add(n); todo.append(n)
        assert seen == cells
    assert not tied_optimum(torch.tensor(d['vertex_weights']), torch.tensor(d['shortest_paths'])).any()


def test_loader_reads_the_original_layout(tmp_path):
    folder = write_folder(tmp_path / '6x6')
    s = load_warcraft_dir(folder)
    assert [len(s[x]) for x in SPLITS] == [64, 16, 16] and s['val'].k == 6
    assert np.array_equal(s['test'].maps, np.load(folder / 'test_maps.npy'))
    assert warcraft_data(folder)['train'].maps.shape == (64, 48, 48, 3)


@pytest.mark.parametrize('damage, message', [
    (lambda f: (f / 'val_shortest_paths.npy').unlink(), 'lacks val_shortest_paths.npy'),
    (lambda f: np.save(f / 'train_maps.npy', np.zeros((64, 48, 48, 3), np.float32)), 'uint8 RGB maps'),
    (lambda f: np.save(f / 'test_maps.npy', np.zeros((16, 40, 40, 3), np.uint8)), 'do not match the 6×6 costs'),
    (lambda f: np.save(f / 'val_vertex_weights.npy', np.full((16, 6, 6), np.nan, np.float16)), 'finite and positive'),
    (lambda f: np.save(f / 'val_shortest_paths.npy', np.full((16, 6, 6), 2, np.uint8)), 'other than 0 and 1'),
    (lambda f: np.save(f / 'test_shortest_paths.npy', np.zeros((15, 6, 6), np.uint8)), 'expected (16, 6, 6)'),
    (lambda f: (f / 'train_maps.npy').write_bytes(b'not numpy'), 'cannot read'),
])
def test_bad_warcraft_dir_names_the_file(tmp_path, damage, message):
    folder = write_folder(tmp_path / '6x6')
    damage(folder)
    with pytest.raises(ValueError) as e: load_warcraft_dir(folder)
    assert message in str(e.value)


@pytest.mark.parametrize('m', [Method('gss', SmoothingSpec.parse('algorithm:logistic:rqmc-latin:loo:16:0.333')),
                               Method('gss', SmoothingSpec.parse('loss:gaussian:mc-antithetic:fx:16:1')),
                               Method('gss', SmoothingSpec.parse('algorithm:cauchy:mc:none:16:0.1')),
                               Method('fy', fy_spec(1.0, 16)), Method('blackbox', param=20.0)],
                         ids=lambda m: m.tag)
def test_each_method_loss_is_finite_and_reaches_the_cnn(m):
    d = generate_warcraft(4, 6, seed=1)
    maps = torch.as_tensor(d['maps'])
    x = map_tensor(maps, torch.full((3,), 0.5), torch.full((3,), 0.25))
    torch.manual_seed(0); net = WarcraftNet(6)
    loss = path_loss(m, net(x), torch.as_tensor(d['shortest_paths']), torch.Generator().manual_seed(1))
    assert loss.shape == () and torch.isfinite(loss)
    loss.backward()
    assert net.stem[0].weight.grad.abs().sum() > 0


def test_uniform_is_the_only_untrained_method():
    assert set(METHODS) == {'gss', 'fy', 'blackbox', 'uniform'}
    with pytest.raises(ValueError, match='has no training loss'): path_loss(Method('uniform'), torch.ones(1, 3, 3),
                                                                            torch.eye(3)[None])


@pytest.mark.parametrize('bad', [float('nan'), float('inf')])
def test_non_finite_costs_never_reach_a_path(bad):
    c = torch.ones(2, 4, 4); c[1, 2, 1] = bad
    with pytest.raises(ValueError, match='must be finite'): shortest_path(c)


TINY = ['--no-progress', '--set', 'methods=gss,blackbox,uniform', '--set', 'n_samples=4', '--set', 'batch=8',
        '--set', 'n_train=64', '--set', 'n_val=16', '--set', 'n_test=16', '--set', 'checkpoint_every_s=0']


@pytest.mark.parametrize('overrides, message', [
    (dict(methods='gss,spo'), "config key 'methods' takes one of ['gss', 'fy', 'blackbox', 'uniform'], got 'spo'"),
    (dict(distributions='normal'), "config key 'distributions' takes one of"),
    (dict(smoothings='solver'), "config key 'smoothings' takes one of ['algorithm', 'loss'], got 'solver'"),
    (dict(epochs=0), "config key 'epochs' takes a number ≥ 1, got 0"),
    (dict(nonsense=3), 'unknown config key'),
])
def test_bad_warcraft_config_is_refused_before_anything_runs(tmp_path, overrides, message):
    from gss_nbdev.experiments.harness import reproduce
    with pytest.raises(ValueError) as e: reproduce('warcraft', out=tmp_path / 'o', progress=False, overrides=overrides)
    assert message in str(e.value)
    assert not (tmp_path / 'o' / 'summary.csv').exists()


def test_bad_warcraft_arguments_are_one_line_errors_on_the_command_line(tmp_path):
    folder = write_folder(tmp_path / '6x6')
    r = gss('reproduce', 'warcraft', '--out', str(tmp_path / 'o'), '--warcraft-dir', str(folder), *TINY,
            '--set', 'methods=gss,spo')
    assert r.returncode == 2 and "got 'spo'" in r.stderr and 'Traceback' not in r.stderr, r.stderr[-1500:]


def test_missing_or_broken_warcraft_dir_is_a_clear_error(tmp_path):
    r = gss('reproduce', 'warcraft', '--out', str(tmp_path / 'o'), '--warcraft-dir', str(tmp_path / 'nowhere'))
    assert r.returncode == 2 and 'does not exist' in r.stderr, r.stderr[-1500:]
    folder = write_folder(tmp_path / '6x6'); (folder / 'test_maps.npy').unlink()
    r = gss('reproduce', 'warcraft', '--out', str(tmp_path / 'o2'), '--warcraft-dir', str(folder), *TINY)
    assert r.returncode == 2 and 'lacks test_maps.npy' in r.stderr, r.stderr[-1500:]
