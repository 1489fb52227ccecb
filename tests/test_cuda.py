"The CUDA path: noise, estimators and algorithms on a GPU agree with the closed forms. Skipped where there is no GPU."
import math

import pytest
import torch

from gss_nbdev.distributions import DISTRIBUTIONS, get_distribution
from gss_nbdev.sampling import SAMPLERS, sample_noise
from gss_nbdev.smoothing import smooth, smoothed_jacobian
from gss_nbdev.algorithms.sorting import sort_permutation, ranks

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
DEV = 'cuda'


@pytest.mark.parametrize('sampler', SAMPLERS)
@pytest.mark.parametrize('dist', sorted(DISTRIBUTIONS))
def test_noise_on_gpu(sampler, dist):
    n = 27 if 'cartesian' in sampler else 32
    mk = lambda: sample_noise(dist, n, 3, sampler, batch_shape=(4,), generator=torch.Generator(device=DEV).manual_seed(0), device=DEV)
    a, b = mk(), mk()
    assert a.device.type == 'cuda' and a.shape == (4, n, 3) and torch.equal(a, b) and torch.isfinite(a).all()


def test_cpu_generator_with_cuda_device_is_refused():
    with pytest.raises(ValueError, match=r"torch.Generator\(device='cuda'\)"):
        sample_noise('gaussian', 8, 2, generator=torch.Generator(), device=DEV)


@pytest.mark.parametrize('dist', sorted(DISTRIBUTIONS))
@pytest.mark.parametrize('sampler', ['mc', 'rqmc-latin', 'rqmc-sobol'])
def test_step_gradient_on_gpu(dist, sampler):
    "d/dx E[H(x+γε)] = μ(−x/γ)/γ and d/dγ = −x μ(−x/γ)/γ², 200 repetitions in one call, 5 standard errors."
    x0, gamma, R = 0.3, 0.7, 200
    x = torch.full((R, 1), x0, dtype=torch.float64, device=DEV, requires_grad=True)
    L = torch.full((R, 1, 1), gamma, dtype=torch.float64, device=DEV, requires_grad=True)
    v = smooth(lambda z: (z >= 0).double(), x, dist=dist, scale=L, n_samples=256, sampler=sampler, covariate='fx',
               generator=torch.Generator(device=DEV).manual_seed(1))
    gx, gL = torch.autograd.grad(v.sum(), (x, L))
    mu = get_distribution(dist)
    p = mu.prob(torch.tensor(-x0 / gamma, dtype=torch.float64)).item()
    for est, truth in [(gx[:, 0], p / gamma), (gL[:, 0, 0], -x0 * p / gamma ** 2)]:
        assert est.device.type == 'cuda'
        m, se = est.mean().item(), est.std().item() / math.sqrt(R)
        assert abs(m - truth) < 5 * se + 1e-9, (dist, sampler, m, truth, se)


def test_jacobian_backward_and_chunks_on_gpu():
    x = torch.randn(4, 5, device=DEV, dtype=torch.float64)
    L = torch.linalg.cholesky(torch.eye(5, dtype=torch.float64, device=DEV) + 0.3)
    kw = dict(scale=L, n_samples=512, dist='laplace')
    J = smoothed_jacobian(ranks, x, generator=torch.Generator(device=DEV).manual_seed(3), **kw)
    Jc = smoothed_jacobian(ranks, x, generator=torch.Generator(device=DEV).manual_seed(3), chunk_size=100, **kw)
    xr = x.clone().requires_grad_()
    v = smooth(ranks, xr, generator=torch.Generator(device=DEV).manual_seed(3), **kw)
    rows = torch.stack([torch.autograd.grad(v[:, i].sum(), xr, retain_graph=True)[0] for i in range(5)], 1)
    assert torch.allclose(rows, J, atol=1e-10) and torch.allclose(Jc, J, atol=1e-10)
    P = smooth(sort_permutation, x.float(), n_samples=1024, generator=torch.Generator(device=DEV).manual_seed(0))
    assert P.device.type == 'cuda' and torch.allclose(P.sum(-1), torch.ones(4, 5, device=DEV))


def test_shortest_path_on_gpu_matches_cpu():
    from gss_nbdev.algorithms.shortest_path import shortest_path
    g = torch.Generator().manual_seed(0)
    for dtype in (torch.float32, torch.float64):
        C = torch.rand(2000, 12, 12, generator=g, dtype=dtype) * 10 - 1          # some negative costs: clamped by f
        P_cpu, P_gpu = shortest_path(C), shortest_path(C.to(DEV))
        assert P_gpu.device.type == 'cuda'
        cost = lambda P: (C.clamp(min=1e-3) * P.cpu()).flatten(1).sum(-1)
        assert torch.allclose(cost(P_gpu), cost(P_cpu), rtol=1e-5)


def test_median_and_covariance_on_gpu():
    from gss_nbdev.median import smooth_median
    from gss_nbdev.covariance import smoothed_covariance
    x = torch.full((200, 1), 0.7, dtype=torch.float64, device=DEV, requires_grad=True)
    v = smooth_median(lambda z: z, x, 5, dist='cauchy', n_samples=1024, sampler='mc', covariate='none',
                      generator=torch.Generator(device=DEV).manual_seed(1))
    (g,) = torch.autograd.grad(v.sum(), x)
    assert v.device.type == 'cuda' and abs(g.mean().item() - 1) < 5 * g.std().item() / math.sqrt(200)
    x0, gamma, R = torch.tensor([0.5, -1.2], dtype=torch.float64, device=DEV), 0.7, 300
    xr = x0.expand(R, 2).clone().requires_grad_()
    G = smoothed_covariance(lambda z: z * z, xr, scale=gamma, n_samples=1024, sampler='mc', generator=torch.Generator(device=DEV).manual_seed(2))
    (gx,) = torch.autograd.grad(G[:, 0, 0].sum(), xr)
    m, se = gx[:, 0].mean().item(), gx[:, 0].std().item() / math.sqrt(R)
    assert abs(m - 8 * 0.5 * gamma ** 2) < 5 * se
