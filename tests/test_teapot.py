"""The teapot experiment (issue: teapot camera pose): the hard rasterizer against a brute-force reference and the cube's
closed form, the mesh loaders, the protocol's initial poses, every method's loss and gradient, bad input, and a killed
run that resumes to the same numbers. No network: the committed teapot stands in for npm's."""
import io
import json
import math
import tarfile
from pathlib import Path

import pytest
import scipy.stats as st
import torch

from gss_nbdev.algorithms.rendering import silhouette, silhouette_reference, soft_silhouette
from gss_nbdev.datasets.meshes import _convert_teapot, box_mesh, load_mesh, read_obj, write_obj
from gss_nbdev.experiments.harness import Method
from gss_nbdev.experiments.teapot import TeapotPoses, pose_error, pose_loss, random_problems
from gss_nbdev.spec import SmoothingSpec
from cli_helpers import gss

FIXTURE = Path(__file__).parent / 'fixtures' / 'teapot.obj'


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_rasterizer_matches_brute_force_on_the_teapot(dtype):
    v, f = load_mesh(FIXTURE, dtype=dtype)
    g = torch.Generator().manual_seed(1)
    cams = torch.stack([1.0 + 4 * torch.rand(40, generator=g), 180 * torch.rand(40, generator=g) - 90,
                        360 * torch.rand(40, generator=g), 3 + 50 * torch.rand(40, generator=g)], -1).to(dtype)
    ref, margin = silhouette_reference(v, f, cams, 16)
    img = silhouette(v, f, cams, 16)
    assert ref.sum() > 500
    assert ((img != ref) & (margin > 1e-4)).sum() == 0


def test_rasterizer_matches_brute_force_on_random_triangles():
    g = torch.Generator().manual_seed(2)
    v = torch.randn(60, 3, generator=g, dtype=torch.float64) * 0.6
    f = torch.randint(60, (40, 3), generator=g)
    f = f[(f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])]
    cams = torch.tensor([[3.0, 10, 20, 30], [1.2, -60, 100, 50], [0.4, 0, 0, 40], [6.0, 89, -30, 8]], dtype=torch.float64)
    ref, margin = silhouette_reference(v, f, cams, 20)
    assert ((silhouette(v, f, cams, 20) != ref) & (margin > 1e-4)).sum() == 0


@pytest.mark.parametrize('d, alpha, size', [(3.0, 20.0, 64), (2.2, 35.0, 33), (8.0, 5.0, 40)])
def test_cube_along_an_axis_is_its_closed_form_square(d, alpha, size):
    v, f = box_mesh(0.5)
    h = 0.5 / ((d - 0.5) * math.tan(math.radians(alpha)))
    centre = (2 * torch.arange(size, dtype=torch.float64) + 1) / size - 1
    inside = (centre.abs() <= h).double()
    for el, az in ((0, 0), (0, 90), (0, 180), (0, 270), (90, 0), (-90, 0)):
        img = silhouette(v, f, torch.tensor([d, el, az, alpha], dtype=torch.float64), size)
        assert torch.equal(img, inside[:, None] * inside), (el, az)


def test_empty_offscreen_and_inside_views_are_defined():
    v, f = box_mesh(0.5)
    cam = torch.tensor([3.0, 0, 0, 20], dtype=torch.float64)
    assert silhouette(v + torch.tensor([20.0, 0, 0], dtype=torch.float64), f, cam, 12).sum() == 0
    assert silhouette(v, f, torch.tensor([0.1, 0, 0, 30], dtype=torch.float64), 12).sum() == 144   # inside: far face


def test_mesh_files_round_trip_and_the_npm_layout_converts(tmp_path):
    v, f = read_obj(FIXTURE)
    assert v.shape == (792, 3) and f.shape == (992, 3)
    assert all(torch.equal(a, b) for a, b in zip(read_obj(write_obj(tmp_path / 'm.obj', v, f)), (v, f)))
    js = f"exports.positions={json.dumps(v.tolist())};\nexports.cells={json.dumps(f.tolist())};\n".encode()
    with tarfile.open(tmp_path / 'teapot-1.0.0.tgz', 'w:gz') as t:
        info = tarfile.TarInfo('package/teapot.js'); info.size = len(js); t.addfile(info, io.BytesIO(js))
    obj = _convert_teapot(tmp_path / 'teapot-1.0.0.tgz', tmp_path / 'teapot.obj')
    nv, nf = load_mesh(obj)
    assert torch.equal(nf, f) and torch.allclose((nv.max(0).values - nv.min(0).values).max(), torch.tensor(1.0))


@pytest.mark.parametrize('text, message', [('v 0 0 0\n', 'has no faces'), ('v 0 0 0\nf 1 2 3\n', 'out of range'),
                                            ('v 1 2\nf 1 1 1\n', 'three numbers'), ('v 0 0 0\nv 1 0 0\nf 1 2\n', 'at least three')])
def test_bad_mesh_files_name_the_problem(tmp_path, text, message):
    (tmp_path / 'bad.obj').write_text(text)
    with pytest.raises(ValueError, match=message): read_obj(tmp_path / 'bad.obj')


def test_initial_poses_follow_the_protocol():
    P = random_problems(3000, seed=11)
    assert st.kstest(pose_error(P.init).numpy(), st.uniform(15, 60).cdf).pvalue > 0.01      # U[15°, 75°]
    assert st.kstest((P.init[:, 0] - P.camera[:, 0]).numpy(), st.uniform(-0.5, 6.5).cdf).pvalue > 0.01
    assert st.kstest(P.init[:, 3].numpy(), st.uniform(10, 20).cdf).pvalue > 0.01
    assert torch.equal(P.camera[:, 1:3], torch.zeros(3000, 2, dtype=torch.float64))         # optimum at (0, 0)


@pytest.mark.parametrize('m', [Method('gss', SmoothingSpec.parse('algorithm:logistic:rqmc-latin:loo:16')),
                               Method('gss', SmoothingSpec.parse('loss:cauchy:mc-antithetic:fx:16')),
                               Method('gss', SmoothingSpec.parse('algorithm:triangular:rqmc-cartesian:none:16')),
                               Method('softras')], ids=lambda m: m.tag)
def test_each_method_loss_is_finite_with_a_gradient(m):
    v, f = load_mesh(FIXTURE)
    P = random_problems(3, seed=5)
    targets = silhouette(v, f, P.camera.float(), 24, rotation=P.rotation.float())
    model = TeapotPoses(P.init.float())
    loss = pose_loss(m, model.pose, (v, f), P, targets, 30, 100, torch.Generator().manual_seed(0))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(model.pose.grad).all() and model.pose.grad.abs().sum() > 0


@pytest.mark.parametrize('camera, message', [
    ([0.0, 0, 0, 20], 'distance must be > 0'), ([-1.0, 0, 0, 20], 'distance must be > 0'),
    ([3.0, 0, 0, 0], 'must lie in (0°, 90°)'), ([3.0, 0, 0, 90], 'must lie in (0°, 90°)'),
    ([3.0, float('nan'), 0, 20], '`camera` must be finite')])
def test_bad_cameras_are_refused(camera, message):
    v, f = box_mesh()
    with pytest.raises(ValueError) as e: silhouette(v, f, torch.tensor(camera, dtype=torch.float64))
    assert message in str(e.value)
    with pytest.raises(ValueError): soft_silhouette(v, f, torch.tensor(camera, dtype=torch.float64))


def test_bad_meshes_and_sizes_are_refused():
    v, f = box_mesh()
    cam = torch.tensor([3.0, 0, 0, 20], dtype=torch.float64)
    with pytest.raises(ValueError, match='must index the 8 vertices'): silhouette(v, f + 5, cam)
    with pytest.raises(ValueError, match='must be finite'): silhouette(v * float('nan'), f, cam)
    with pytest.raises(ValueError, match='`size` must be an integer ≥ 1'): silhouette(v, f, cam, size=0)


TINY = ['--no-progress', '--mesh', str(FIXTURE), '--set', 'methods=gss', '--set', 'smoothings=algorithm',
        '--set', 'extra=', '--set', 'problems=4', '--set', 'problem_chunk=2', '--set', 'size=20', '--set', 'n_samples=8',
        '--set', 'eval_every=5', '--set', 'checkpoint_every_s=0']


def test_missing_mesh_and_bad_config_are_one_line_errors(tmp_path):
    r = gss('reproduce', 'teapot', '--out', str(tmp_path / 'o'), *TINY[:1], '--mesh', str(tmp_path / 'none.obj'))
    assert r.returncode == 2 and 'is not a file' in r.stderr and 'Traceback' not in r.stderr, r.stderr[-1500:]
    r = gss('reproduce', 'teapot', '--out', str(tmp_path / 'o2'), *TINY, '--set', 'samplers=sobol')
    assert r.returncode == 2 and "config key 'samplers' takes one of" in r.stderr, r.stderr[-1500:]
