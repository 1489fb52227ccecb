"""The cryo-ET experiment (issue: cryo-electron tomography): the simulator's physics, the parameter mapping, the
per-sample function in-process and on a LocalCluster, MC search, bad input, and a killed run that resumes to the same
numbers. The tiny specimen keeps every simulation to milliseconds; no network."""
import csv
import math

import numpy as np
import pytest
import torch

pytest.importorskip('abtem')
from gss_nbdev.algorithms.tem import (HelicalAssembly, Microscope, aperture_cutoff, aperture_semiangle, micrograph,
                                      wavelength)
from gss_nbdev.evaluators import DaskEvaluator, EvaluationError, SerialEvaluator
from gss_nbdev.experiments.cryoet import STUDIES, MicrographLoss, from_wavelength, rmse, starts, to_wavelength

SCOPE = Microscope(field_of_view=64.0, sampling=4.0, slice_thickness=16.0, pixel=8.0)
SPEC = HelicalAssembly(units=8, radius=12.0, atoms_per_unit=10, blob=5.0)
TINY = ['--no-progress', '--set', 'units=8', '--set', 'radius=12', '--set', 'atoms_per_unit=10', '--set', 'blob=5',
        '--set', 'field_of_view=64', '--set', 'sampling=4', '--set', 'slice_thickness=16', '--set', 'pixel=8',
        '--set', 'sim_workers=2', '--set', 'checkpoint_every_s=0']


def test_wavelengths_and_the_aperture():
    for kv, pm in ((100, 3.701), (200, 2.508), (300, 1.969)): assert abs(wavelength(kv) * 100 - pm) < 5e-4
    assert math.isclose(aperture_semiangle(3.0, 50.0), 25 / 3) and aperture_semiangle(0.0) == math.inf
    assert math.isclose(aperture_cutoff(300, 3.0), 25 / 3 * 1e-3 / wavelength(300))


def test_a_shift_of_x_moves_the_image_by_x_over_the_pixel_size():
    img = micrograph(specimen=SPEC, microscope=SCOPE)
    assert np.allclose(micrograph(x_nm=1.6, specimen=SPEC, microscope=SCOPE), np.roll(img, 2, axis=0), atol=1e-5)
    assert np.allclose(micrograph(y_nm=-0.8, specimen=SPEC, microscope=SCOPE), np.roll(img, -1, axis=1), atol=1e-5)


def test_the_mapping_clamps_into_the_box_and_converts_units():
    target = micrograph(specimen=SPEC, microscope=SCOPE)
    st = STUDIES['4param']
    loss = MicrographLoss(target, st['names'], st['lower'], st['upper'], SPEC, SCOPE)
    assert loss.physical([3.0, 3.0, 0.0, 0.0]) == dict(voltage_kV=300.0, focal_length_mm=3.0, x_nm=0.0, y_nm=0.0)
    assert loss.physical([-1.0, 9.0, 5.0, -5.0]) == dict(voltage_kV=10.0, focal_length_mm=6.0, x_nm=3.0, y_nm=-3.0)
    assert loss([3.0, 3.0, 0.0, 0.0]) == 0.0 and loss([2.0, 3.0, 0.5, 0.0]) > 0
    assert torch.allclose(rmse(torch.tensor([4.0, 3.0, 1.0, 1.0]), st['names']), torch.tensor(math.sqrt(3 / 4)))


def test_the_wavelength_coordinate_gives_the_same_micrographs_and_box():
    target = micrograph(specimen=SPEC, microscope=SCOPE)
    st = STUDIES['2param']
    by_v = MicrographLoss(target, st['names'], st['lower'], st['upper'], SPEC, SCOPE)
    by_l = MicrographLoss(target, st['names'], st['lower'], st['upper'], SPEC, SCOPE, coordinate='wavelength')
    p = starts('2param', 1, seed=4, n=5)[0]
    z = by_l.encode(p)
    assert torch.allclose(z[:, 1], p[:, 1]) and torch.allclose(z[:, 0], to_wavelength(p[:, 0]))
    assert torch.allclose(by_l.decode(z), p, rtol=1e-12)
    assert torch.allclose(SerialEvaluator()(by_l, z), SerialEvaluator()(by_v, p), rtol=1e-4)
    (l0, x0), (l1, x1) = by_l.box                                   # the wavelength falls as the voltage rises
    assert math.isclose(l0, to_wavelength(10.0)) and math.isclose(l1, to_wavelength(0.1)) and (x0, x1) == (-5.0, 5.0)
    assert by_l.physical([0.0, 0.0])['voltage_kV'] == pytest.approx(1000.0)    # below the box: the highest voltage
    assert by_l.physical([-4.0, 0.0])['voltage_kV'] == pytest.approx(1000.0)   # never a negative wavelength
    assert by_l.physical([99.0, 0.0])['voltage_kV'] == pytest.approx(10.0)
    assert math.isclose(float(from_wavelength(196.87e-2 * 1.0)), 3.0, rel_tol=1e-4)   # 300 kV: 1.97 pm
    with pytest.raises(ValueError, match="`coordinate` must be one of"):
        MicrographLoss(target, st['names'], st['lower'], st['upper'], SPEC, SCOPE, coordinate='energy')


def test_the_per_sample_function_is_the_same_in_process_and_on_a_local_cluster():
    target = micrograph(specimen=SPEC, microscope=SCOPE)
    st = STUDIES['2param']
    loss = MicrographLoss(target, st['names'], st['lower'], st['upper'], SPEC, SCOPE)
    z = starts('2param', 1, seed=4, n=6)[0]
    here = SerialEvaluator()(loss, z)
    with DaskEvaluator(n_workers=2, dashboard_address=None) as ev:
        there = ev(loss, z)
        assert torch.allclose(here, there, rtol=1e-6)
        broken = MicrographLoss(np.zeros((3, 3)), st['names'], st['lower'], st['upper'], SPEC, SCOPE)
        with pytest.raises(EvaluationError, match='sample 0 with input'): ev(broken, z[:1])


@pytest.mark.parametrize('bad', [float('nan'), float('inf')])
def test_non_finite_parameters_are_refused(bad):
    with pytest.raises(ValueError, match='must be a finite number'): micrograph(300.0, bad, specimen=SPEC, microscope=SCOPE)


def test_mc_search_keeps_each_repeats_lowest_mse_point(tmp_path):
    from gss_nbdev.experiments.harness import reproduce
    tiny = dict(methods='mc-search', simulations=16, mc_repeats=3, units=8, radius=12.0, atoms_per_unit=10, blob=5.0,
                field_of_view=64.0, sampling=4.0, slice_thickness=16.0, pixel=8.0, sim_workers=1)
    out = reproduce('cryoet', out=tmp_path / 'o', progress=False, overrides=tiny)
    pts = list(csv.DictReader(open(out / 'mcsearch' / '2param-seed0-points.csv')))
    assert len(pts) == 3 * 16 and {int(p['repeat']) for p in pts} == {0, 1, 2}
    curve = list(csv.DictReader(open(out / 'mcsearch' / '2param-seed0.csv')))
    best = [min((p for p in pts if int(p['repeat']) == r), key=lambda p: float(p['mse'])) for r in range(3)]
    errs = [math.sqrt(((float(b['voltage']) - 3) ** 2 + float(b['x']) ** 2) / 2) for b in best]
    assert math.isclose(float(curve[-1]['rmse_mean']), sum(errs) / 3, rel_tol=1e-5)
    row = list(csv.DictReader(open(out / 'summary.csv')))[0]
    assert row['method'] == 'mc-search' and int(row['n_simulations']) == 16 and int(row['repeats']) == 3
