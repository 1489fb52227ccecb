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


def test_flow_estimators_on_gpu():
    "flow_gradient (LR, RP, mixture, optimal baseline, importance sampling) and l_gradient on the GPU vs closed forms."
    from gss_nbdev.flow import flow_gradient, l_gradient, Proposal
    a = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64, device=DEV)
    m = torch.tensor([0.3, -0.5, 1.0], dtype=torch.float64, device=DEV)
    s = 0.7
    f = lambda x: (a * x**2 + torch.sin(x)).sum(-1)
    e = math.exp(-s * s / 2)
    truth = torch.cat([2 * a * m + torch.cos(m) * e, (2 * a * s - s * torch.sin(m) * e).sum()[None]])
    for kw in (dict(flow='lr'), dict(flow='rp'), dict(flow=0.5), dict(flow='lr', baseline='optimal'),
               dict(flow='rp', proposal=Proposal('cauchy', 1.0))):
        t = flow_gradient(f, m, s, n_samples=40_000, per_sample=True, generator=torch.Generator(device=DEV).manual_seed(1), **kw)
        assert t.device.type == 'cuda'
        est, se = t.mean(0), t.std(0) / math.sqrt(t.shape[0])
        assert ((est - truth).abs() <= 5 * se + 1e-12).all(), (kw, est, truth)
    t = l_gradient(f, m, s, n_samples=40_000, per_sample=True, generator=torch.Generator(device=DEV).manual_seed(2))
    est, se = t.mean(0), t.std(0) / math.sqrt(t.shape[0])
    assert t.device.type == 'cuda' and ((est - truth[:3]).abs() <= 5 * se).all()


def test_pathwise_smooth_on_gpu():
    a = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64, device=DEV)
    x = torch.tensor([0.3, -0.5, 1.0], dtype=torch.float64, device=DEV, requires_grad=True)
    L = torch.tensor([[0.5, 0, 0], [0.2, 0.4, 0], [-0.1, 0.3, 0.6]], dtype=torch.float64, device=DEV, requires_grad=True)
    for est in ('pathwise', 'mixed'):
        v = smooth(lambda z: (a * z**2).sum(-1), x, scale=L, n_samples=100_000, sampler='mc', estimator=est,
                   generator=torch.Generator(device=DEV).manual_seed(3))
        gx, gL = torch.autograd.grad(v, (x, L))
        torch.testing.assert_close(gx, 2 * a * x.detach(), rtol=0.05, atol=0.05)
        torch.testing.assert_close(gL, 2 * torch.diag(a) @ L.detach(), rtol=0.05, atol=0.05)


def test_evaluators_with_gpu_inputs():
    "A per-sample f on the host for inputs drawn on the GPU: the estimate comes back on the GPU and equals the batched path."
    import concurrent.futures as cf
    from gss_nbdev.evaluators import SerialEvaluator, ExecutorEvaluator
    x = torch.tensor([[0.1, -0.2, 0.3], [0.5, 0.0, -1.0]], dtype=torch.float64, device=DEV, requires_grad=True)
    kw = dict(scale=0.5, n_samples=64, sampler='rqmc-sobol')
    ref = smooth(lambda z: torch.sin(3 * z).sum(-1), x, generator=torch.Generator(device=DEV).manual_seed(0), **kw)
    with cf.ThreadPoolExecutor(2) as pool:
        for ev in (SerialEvaluator(), ExecutorEvaluator(pool, samples_per_task=8)):
            got = smooth(lambda z: torch.sin(3 * z).sum(), x, generator=torch.Generator(device=DEV).manual_seed(0), evaluator=ev, **kw)
            assert got.device.type == 'cuda'
            torch.testing.assert_close(got, ref, rtol=0, atol=1e-12)
            torch.testing.assert_close(torch.autograd.grad(got.sum(), x)[0], torch.autograd.grad(ref.sum(), x, retain_graph=True)[0], rtol=0, atol=1e-12)
