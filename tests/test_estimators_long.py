"""Long statistical runs of the estimators (the notebooks carry the quick versions): every distribution × sampler ×
covariate × antithetic choice against closed forms or an independent estimator, with tolerances of 5 standard errors."""
import math

import pytest
import torch

from gss_nbdev.distributions import DISTRIBUTIONS, get_distribution
from gss_nbdev.sampling import sample_noise
from gss_nbdev.smoothing import smooth

D = torch.float64
R = 400


def mean_se(t):
    return t.mean(0), t.std(0) / math.sqrt(t.shape[0])


@pytest.mark.parametrize('dist', sorted(DISTRIBUTIONS))
@pytest.mark.parametrize('sampler,s', [('mc', 256), ('rqmc-latin', 256), ('rqmc-cartesian', 256), ('rqmc-sobol', 256)])
@pytest.mark.parametrize('antithetic', [False, True])
def test_heaviside_closed_form(dist, sampler, s, antithetic):
    "d/dx E[H(x+γε)] = μ(−x/γ)/γ and d/dγ E[H(x+γε)] = −x μ(−x/γ)/γ² (Lemmas 3 and 6)."
    mu = get_distribution(dist)
    if antithetic and not mu.symmetric: pytest.skip('no antithetic pairs for an asymmetric density')
    x0, gamma = 0.25, 0.8
    x = torch.full((R, 1), x0, dtype=D, requires_grad=True)
    L = torch.full((R, 1, 1), gamma, dtype=D, requires_grad=True)
    v = smooth(lambda z: (z >= 0).double(), x, dist=dist, scale=L, n_samples=s, sampler=sampler, covariate='fx',
               antithetic=antithetic, generator=torch.Generator().manual_seed(11))
    gx, gL = torch.autograd.grad(v.sum(), (x, L))
    p = mu.prob(torch.tensor(-x0 / gamma, dtype=D)).item()
    for est, truth in [(gx[:, 0], p / gamma), (gL[:, 0, 0], -x0 * p / gamma ** 2)]:
        m, se = mean_se(est)
        assert abs(m - truth) < 5 * se + 1e-12, (dist, sampler, antithetic, m.item(), truth, se.item())


@pytest.mark.parametrize('dist', sorted(DISTRIBUTIONS))
@pytest.mark.parametrize('sampler', ['qmc-latin', 'qmc-cartesian'])
def test_centred_qmc_is_biased_but_consistent(dist, sampler):
    """In 1-D the centred samplers are deterministic; their relative error shrinks with s — slowly (s^-1/2, s^-1/3) for the
    triangular and semicircle densities, whose scores are not square-integrable."""
    mu = get_distribution(dist)
    x0, gamma = 0.25, 0.8
    truth = mu.prob(torch.tensor(-x0 / gamma, dtype=D)).item() / gamma
    errs = []
    for s in (64, 1024, 16384):
        x = torch.full((1, 1), x0, dtype=D, requires_grad=True)
        v = smooth(lambda z: (z >= 0).double(), x, dist=dist, scale=gamma, n_samples=s, sampler=sampler, covariate='fx')
        errs.append(abs(torch.autograd.grad(v.sum(), x)[0].item() - truth) / truth)
    assert errs[2] < errs[1] < errs[0] and errs[2] < 0.05, (dist, errs)


A = torch.tensor([0.7, -0.4, 0.5], dtype=D)
X0 = torch.tensor([0.1, -0.3, 0.4], dtype=D)
L0 = torch.tensor([[0.8, 0.0, 0.0], [0.3, 0.6, 0.0], [-0.4, 0.2, 0.9]], dtype=D)


@pytest.mark.parametrize('dist', sorted(DISTRIBUTIONS))
@pytest.mark.parametrize('covariate', ['none', 'fx', 'loo'])
def test_theorem7_against_pathwise(dist, covariate):
    "Score-function ∇x and ∇L (Theorem 7, full non-symmetric L) vs the reparameterization estimator, f(z) = sin(aᵀz)."
    f = lambda z: torch.sin(z @ A)[..., None]
    x = X0.expand(R, 3).clone().requires_grad_(); L = L0.expand(R, 3, 3).clone().requires_grad_()
    v = smooth(f, x, dist=dist, scale=L, n_samples=512, sampler='mc', covariate=covariate, generator=torch.Generator().manual_seed(5))
    sf = torch.autograd.grad(v.sum(), (x, L))
    eps = sample_noise(dist, 512, 3, 'mc', batch_shape=(R,), generator=torch.Generator().manual_seed(6), dtype=D)
    xp = X0.expand(R, 3).clone().requires_grad_(); Lp = L0.expand(R, 3, 3).clone().requires_grad_()
    pw = torch.autograd.grad(f(xp[:, None, :] + eps @ Lp.mT).mean(-2).sum(), (xp, Lp))
    for a, b in zip(sf, pw):
        (m1, s1), (m2, s2) = mean_se(a), mean_se(b)
        z = ((m1 - m2) / (s1 ** 2 + s2 ** 2).sqrt()).abs().max().item()
        assert z < 5, (dist, covariate, z)


def test_gaussian_theorem7_closed_form_vector_valued():
    "Gaussian, two linear thresholds: value, ∇x and ∇L against autograd of Φ((Ax − b)/‖Lᵀa‖), all samplers."
    Am = torch.tensor([[1.0, -0.5, 0.8], [0.2, 0.9, -0.4]], dtype=D); b = torch.tensor([0.3, -0.2], dtype=D)
    f = lambda z: (z @ Am.T >= b).double()
    closed = lambda x, L: torch.special.ndtr((x @ Am.T - b) / (L.mT @ Am.T).norm(dim=-2))
    xe, Le = X0.clone().requires_grad_(), L0.clone().requires_grad_()
    exact = [torch.stack(t) for t in zip(*[torch.autograd.grad(closed(xe, Le)[i], (xe, Le), retain_graph=True) for i in range(2)])]
    for sampler in ('mc', 'rqmc-latin', 'rqmc-sobol', 'rqmc-cartesian'):
        s = 343 if sampler == 'rqmc-cartesian' else 512
        x = X0.expand(R, 3).clone().requires_grad_(); L = L0.expand(R, 3, 3).clone().requires_grad_()
        v = smooth(f, x, scale=L, n_samples=s, sampler=sampler, covariate='fx', generator=torch.Generator().manual_seed(2))
        grads = [torch.stack(t, 1) for t in zip(*[torch.autograd.grad(v[:, i].sum(), (x, L), retain_graph=True) for i in range(2)])]
        for est, ex in zip(grads, exact):
            m, se = mean_se(est)
            assert ((m - ex).abs() < 5 * se + 1e-12).all(), sampler
