"""Every bad input a clear error (issue 21): one case a line — the call, the exception type, and a piece of the message
that names the argument. Then the sweep that no estimator returns a silent non-finite result in any dtype."""
import pytest, torch
from gss_nbdev.distributions import get_distribution, DISTRIBUTIONS
from gss_nbdev.sampling import SAMPLERS, sample_noise, sample_uniform, cartesian_k
from gss_nbdev.smoothing import smooth, smoothed_jacobian
from gss_nbdev.validation import set_validate_args
from gss_nbdev.median import smooth_median
from gss_nbdev.covariance import smoothed_covariance
from gss_nbdev.models import Smoothed
from gss_nbdev.flow import flow_gradient
from gss_nbdev.algorithms.shortest_path import shortest_path
from gss_nbdev.evaluators import DaskEvaluator, ExecutorEvaluator, SerialEvaluator
from gss_nbdev.experiments.harness import reproduce

nan, inf = float('nan'), float('inf')
x = torch.zeros(3)
step = lambda z: (z[..., :1] >= 0).float()
vec = lambda z: z * 2
L_nan = torch.eye(3); L_nan[1, 2] = nan
L_inf = torch.eye(3); L_inf[0, 0] = inf
with_nan = lambda *idx: torch.zeros(2, 3).index_put_(idx, torch.tensor(nan))

CASES = [  # (id, call, exception, text that names the argument)
    ('x-list', lambda: smooth(step, [0.0]), TypeError, '`x` must be a torch.Tensor'),
    ('x-int', lambda: smooth(step, torch.tensor([1, 2])), TypeError, '`x` must be a floating-point'),
    ('x-0d', lambda: smooth(step, torch.tensor(1.0)), ValueError, '`x` must have shape'),
    ('x-empty', lambda: smooth(step, torch.zeros(2, 0)), ValueError, '`x` must have shape'),
    ('x-nan', lambda: smooth(step, with_nan(torch.tensor(1), torch.tensor(2))), ValueError, '`x` must be finite, got 1 NaN'),
    ('x-inf', lambda: smooth(step, torch.tensor([0., inf])), ValueError, '`x` must be finite, got 0 NaN and 1 ±inf'),
    ('x-ninf', lambda: smooth(step, torch.tensor([-inf, 0.])), ValueError, '`x` must be finite'),
    ('scale-negative', lambda: smooth(step, x, scale=-1.0), ValueError, '`scale` γ must be positive'),
    ('scale-zero', lambda: smooth(step, x, scale=0), ValueError, '`scale` γ must be positive'),
    ('scale-nan', lambda: smooth(step, x, scale=nan), ValueError, '`scale` γ must be positive and finite'),
    ('scale-inf', lambda: smooth(step, x, scale=inf), ValueError, '`scale` γ must be positive and finite'),
    ('scale-str', lambda: smooth(step, x, scale='big'), TypeError, '`scale` must be a positive number'),
    ('scale-bool', lambda: smooth(step, x, scale=True), TypeError, '`scale` must be'),
    ('scale-0d-nan', lambda: smooth(step, x, scale=torch.tensor(nan)), ValueError, '`scale` γ must be positive and finite'),
    ('scale-complex', lambda: smooth(step, x, scale=torch.tensor(1j)), TypeError, '`scale` must be real'),
    ('L-nan', lambda: smooth(step, x, scale=L_nan), ValueError, '`scale` L must be finite, got 1 NaN'),
    ('L-inf', lambda: smooth(step, x, scale=L_inf), ValueError, '`scale` L must be finite, got 0 NaN and 1 ±inf'),
    ('L-shape', lambda: smooth(step, x, scale=torch.eye(2)), ValueError, '(3, 3) matrix L'),
    ('L-singular', lambda: smooth(step, x, scale=torch.zeros(3, 3)), ValueError, '`scale` L must be invertible'),
    ('L-batch', lambda: smooth(step, torch.zeros(5, 3), scale=torch.eye(3).expand(4, 3, 3)), ValueError, 'batch dimensions of `scale`'),
    ('dist-uniform', lambda: smooth(step, x, dist='uniform'), ValueError, '`dist`='),
    ('dist-typo', lambda: smooth(step, x, dist='gauss'), ValueError, "unknown `dist`='gauss'"),
    ('dist-int', lambda: smooth(step, x, dist=3), TypeError, '`dist` must be a distribution name'),
    ('sampler-unknown', lambda: smooth(step, x, sampler='halton'), ValueError, "unknown `sampler`='halton'"),
    ('sampler-int', lambda: smooth(step, x, sampler=3), TypeError, '`sampler` must be a string'),
    ('covariate-unknown', lambda: smooth(step, x, covariate='mean'), ValueError, "unknown `covariate`='mean'"),
    ('covariate-int', lambda: smooth(step, x, covariate=3), TypeError, '`covariate` must be one of'),
    ('covariate-shape', lambda: smooth(step, x, covariate=torch.ones(5)), ValueError, 'a tensor `covariate` must broadcast'),
    ('loo-one-sample', lambda: smooth(step, x, n_samples=1), ValueError, "`covariate='loo'` needs n_samples ≥ 2"),
    ('n-zero', lambda: smooth(step, x, n_samples=0), ValueError, '`n_samples` must be ≥ 1'),
    ('n-negative', lambda: smooth(step, x, n_samples=-5), ValueError, '`n_samples` must be ≥ 1'),
    ('n-float', lambda: smooth(step, x, n_samples=2.5), TypeError, '`n_samples` must be an integer'),
    ('n-bool', lambda: smooth(step, x, n_samples=True), TypeError, '`n_samples` must be an integer'),
    ('n-huge', lambda: smooth(step, x, n_samples=10 ** 12), ValueError, '`n_samples`=1000000000000 does not fit in memory'),
    ('chunk-zero', lambda: smooth(step, x, chunk_size=0), ValueError, '`chunk_size` must be ≥ 1'),
    ('f-not-callable', lambda: smooth(3, x), TypeError, '`f` must be callable'),
    ('f-shape', lambda: smooth(lambda z: z.sum(), x), ValueError, '`f` was called on inputs of shape'),
    ('f-str', lambda: smooth(lambda z: 'y', x), TypeError, '`f` must return a tensor'),
    ('f-nan', lambda: smooth(lambda z: torch.log(z[..., :1]), x), ValueError, '`f` returned non-finite values'),
    ('f-complex', lambda: smooth(lambda z: z.to(torch.complex64), x), TypeError, '`f` must return real'),
    ('antithetic-str', lambda: smooth(step, x, antithetic='yes'), TypeError, '`antithetic` must be a bool'),
    ('antithetic-gumbel', lambda: smooth(step, x, dist='gumbel', antithetic=True), ValueError, '`antithetic=True` needs a symmetric'),
    ('antithetic-odd', lambda: smooth(step, x, n_samples=7, antithetic=True), ValueError, '`antithetic=True` needs an even `n_samples`'),
    ('cartesian-count', lambda: smooth(step, x, sampler='rqmc-cartesian', n_samples=100), ValueError, 'need `n_samples` = k**3'),
    ('generator-int', lambda: smooth(step, x, generator=3), TypeError, '`generator` must be a torch.Generator'),
    ('evaluator-str', lambda: smooth(step, x, evaluator='dask'), TypeError, '`evaluator` must be None'),
    ('estimator-unknown', lambda: smooth(step, x, estimator='magic'), ValueError, "unknown `estimator`='magic'"),
    ('growth-bad', lambda: smooth(step, x, growth='fast'), ValueError, '`growth` must be'),
    ('validate-str', lambda: set_validate_args('no'), TypeError, '`value` must be True or False'),
    ('jac-x-nan', lambda: smoothed_jacobian(vec, torch.tensor([0., nan])), ValueError, '`x` must be finite'),
    ('jac-L-nan', lambda: smoothed_jacobian(vec, x, scale=L_nan), ValueError, '`scale` L must be finite'),
    ('jac-n-zero', lambda: smoothed_jacobian(vec, x, n_samples=0), ValueError, '`n_samples` must be ≥ 1'),
    ('median-x-nan', lambda: smooth_median(vec, torch.tensor([nan, 0.]), k=3), ValueError, '`x` must be finite'),
    ('median-x-inf', lambda: smooth_median(vec, torch.tensor([inf, 0.]), k=3), ValueError, '`x` must be finite'),
    ('median-L-inf', lambda: smooth_median(vec, x, k=3, scale=L_inf), ValueError, '`scale` L must be finite'),
    ('median-k-even', lambda: smooth_median(vec, x, k=4), ValueError, '`k` must be odd'),
    ('median-k-big', lambda: smooth_median(vec, x, k=5, n_samples=5), ValueError, '`k` must be smaller than n_samples'),
    ('median-k-float', lambda: smooth_median(vec, x, k=3.0), TypeError, '`k` must be an integer'),
    ('median-loo', lambda: smooth_median(vec, x, k=3, covariate='loo'), ValueError, "`covariate='loo'` is not defined"),
    ('median-covariate-shape', lambda: smooth_median(vec, x, k=3, covariate=torch.ones(5)), ValueError, 'a tensor `covariate` must broadcast'),
    ('cov-x-nan', lambda: smoothed_covariance(vec, torch.tensor([nan, 0.])), ValueError, '`x` must be finite'),
    ('cov-x-inf', lambda: smoothed_covariance(vec, torch.tensor([0., -inf])), ValueError, '`x` must be finite'),
    ('cov-scalar-f', lambda: smoothed_covariance(lambda z: z.sum(-1), x), ValueError, '`f` must return one vector per input'),
    ('cov-one-sample', lambda: smoothed_covariance(vec, x, n_samples=1), ValueError, '`n_samples` must be ≥ 2'),
    ('module-f', lambda: Smoothed(3), TypeError, '`f` must be callable'),
    ('module-n', lambda: Smoothed(step, n_samples=0), ValueError, '`n_samples` must be ≥ 1'),
    ('module-x-nan', lambda: Smoothed(step)(torch.tensor([nan])), ValueError, '`x` must be finite'),
    ('flow-loc-nan', lambda: flow_gradient(lambda z: z.sum(-1), torch.tensor([nan])), ValueError, '`loc` must be finite'),
    ('flow-unknown', lambda: flow_gradient(lambda z: z.sum(-1), x, flow='magic'), ValueError, "unknown `flow`='magic'"),
    ('flow-baseline', lambda: flow_gradient(lambda z: z.sum(-1), x, baseline='median'), ValueError, "unknown `baseline`='median'"),
    ('noise-n', lambda: sample_noise('gaussian', 0, 2), ValueError, '`n_samples` must be ≥ 1'),
    ('noise-dim', lambda: sample_noise('gaussian', 8, 0), ValueError, '`dim` must be ≥ 1'),
    ('noise-batch-negative', lambda: sample_noise('gaussian', 8, 2, batch_shape=(2, -1)), ValueError, '`batch_shape`'),
    ('noise-batch-str', lambda: sample_noise('gaussian', 8, 2, batch_shape='ab'), TypeError, '`batch_shape`'),
    ('noise-dtype', lambda: sample_noise('gaussian', 8, 2, dtype=torch.int64), TypeError, '`dtype` must be a floating'),
    ('uniform-sampler', lambda: sample_uniform(8, 2, 'sobol'), ValueError, "unknown `sampler`='sobol'"),
    ('dist-sample-shape', lambda: get_distribution('gaussian').sample((-1, 2)), ValueError, '`shape` must have non-negative sizes'),
    ('dist-sample-type', lambda: get_distribution('gaussian').sample('ab'), TypeError, '`shape` must be an int or a tuple'),
    ('dist-icdf', lambda: get_distribution('cauchy').icdf(torch.tensor([1.5])), ValueError, '`u` must lie in [0, 1]'),
    ('dist-score-type', lambda: get_distribution('cauchy').score('a'), TypeError, '`eps` must be a tensor'),
    ('cartesian-dim-zero', lambda: cartesian_k(16, 0), ValueError, '`dim` must be ≥ 1'),
    ('cartesian-negative', lambda: cartesian_k(-16, 2), ValueError, '`n_samples` must be ≥ 1'),
    ('cartesian-not-power', lambda: cartesian_k(10, 2), ValueError, 'need `n_samples` = k**2'),
    ('path-list', lambda: shortest_path([[1.0]]), TypeError, '`costs` must be a torch.Tensor'),
    ('path-shape', lambda: shortest_path(torch.ones(5)), ValueError, '`costs` must have shape'),
    ('path-nan', lambda: shortest_path(torch.full((3, 3), nan)), ValueError, '`costs` must be finite, got 9 NaN'),
    ('path-inf', lambda: shortest_path(torch.ones(3, 3).fill_diagonal_(inf)), ValueError, '`costs` must be finite, got 0 NaN and 3 ±inf'),
    ('path-min-cost-bool', lambda: shortest_path(torch.ones(3, 3), min_cost=True), TypeError, '`min_cost` must be a positive number'),
    ('path-min-cost-zero', lambda: shortest_path(torch.ones(3, 3), min_cost=0), ValueError, '`min_cost` must be a positive number'),
    ('path-min-cost-nan', lambda: shortest_path(torch.ones(3, 3), min_cost=nan), ValueError, '`min_cost` must be a positive number'),
    ('dask-workers', lambda: DaskEvaluator(n_workers=0), ValueError, '`n_workers` must be ≥ 1'),
    ('dask-address', lambda: DaskEvaluator(address=3), TypeError, '`address` must be a scheduler address'),
    ('dask-both', lambda: DaskEvaluator(client=object(), address='tcp://x:1'), ValueError, '`client` or `address`'),
    ('eval-per-task', lambda: SerialEvaluator(samples_per_task=0), ValueError, '`samples_per_task` must be ≥ 1'),
    ('eval-retries', lambda: SerialEvaluator(retries=-1), ValueError, '`retries` must be ≥ 0'),
    ('eval-timeout', lambda: SerialEvaluator(timeout=-1), ValueError, '`timeout` must be a positive number'),
    ('eval-executor', lambda: ExecutorEvaluator(3), TypeError, '`executor` must be a concurrent.futures.Executor'),
    ('eval-f', lambda: SerialEvaluator()(3, torch.ones(2, 2)), TypeError, '`f` must be callable'),
    ('reproduce-name', lambda: reproduce('nope'), ValueError, "unknown experiment 'nope'"),
    ('reproduce-scale', lambda: reproduce('variance', scale='huge'), ValueError, "unknown scale 'huge'"),
    ('reproduce-device', lambda: reproduce('variance', device='tpu'), ValueError, "device 'tpu'"),
    ('reproduce-both', lambda: reproduce('variance', resume=True, force=True), ValueError, '--resume and --force contradict'),
]

def test_enough_distinct_cases():
    assert len(CASES) >= 60 and len({c[0] for c in CASES}) == len(CASES)

@pytest.mark.parametrize('call,exc,text', [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(call, exc, text):
    with pytest.raises(exc) as info: call()
    assert text in str(info.value), str(info.value)

@pytest.mark.parametrize('kind', ['file', 'under-file', 'uncreatable'])
def test_bad_out_folder(tmp_path, kind):
    f = tmp_path / 'results.txt'; f.write_text('keep me')
    out = {'file': f, 'under-file': f / 'run', 'uncreatable': '/proc/nope/x'}[kind]
    with pytest.raises(ValueError, match=r'`out` \(--out\)'): reproduce('variance', out=out, progress=False)
    assert f.read_text() == 'keep me'

def test_validation_can_be_switched_off():
    xn = torch.tensor([nan, 0.])
    with set_validate_args(False):
        # documented: no check of x; f's NaN outputs have their own switch, check_finite
        assert torch.isnan(smooth(vec, xn, n_samples=8, check_finite=False)).any()
    with pytest.raises(ValueError, match='`x` must be finite'): smooth(vec, xn, n_samples=8)
    prev = set_validate_args(False).prev
    try: smooth(vec, xn, n_samples=8, check_finite=False)
    finally: set_validate_args(prev)
    with pytest.raises(ValueError): smooth(vec, xn, n_samples=8)

def test_zero_dim_covariate_with_unbatched_x():
    f = lambda z: z.sum(-1)
    g = torch.Generator
    a = smooth(f, torch.zeros(2), covariate=torch.tensor(0.5), generator=g().manual_seed(0), n_samples=64)
    b = smooth(f, torch.zeros(2), covariate=torch.tensor([0.5])[0], generator=g().manual_seed(0), n_samples=64)
    assert a.shape == () and torch.equal(a, b)
    assert smooth_median(f, torch.zeros(2), k=3, covariate=torch.tensor(0.), n_samples=64).shape == ()

# --- no silent result: every estimator × sampler × dtype gives finite values and gradients (or raises) -------------
def _estimators(dt, m=1.0):
    thr = lambda z: m * (z.sum(-1, keepdim=True) > 0).to(z.dtype)
    two = lambda z: torch.stack([z.sum(-1), m * (z[..., 0] > 0).to(z.dtype)], -1)
    return {'smooth': lambda x, **k: smooth(thr, x, **k),
            'jacobian': lambda x, **k: smoothed_jacobian(thr, x, **k),
            'median': lambda x, **k: smooth_median(thr, x, k=3, covariate='fx', **k),
            'covariance': lambda x, **k: smoothed_covariance(two, x, **{a: b for a, b in k.items() if a != 'covariate'})}

@pytest.mark.parametrize('magnitude', [1.0, 1e4], ids=['f-0-1', 'f-0-10000'])
@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16, torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize('sampler', SAMPLERS)
def test_finite_everywhere(sampler, dtype, magnitude):
    "Finite values and gradients, or a ValueError that says the result overflowed the dtype — never a silent inf."
    n = 1024                                                # = 32**2: also a Cartesian grid in 2-D
    for name in DISTRIBUTIONS:
        for est, fn in _estimators(dtype, magnitude).items():
            for scale in (0.5, torch.tensor([[0.5, 0.], [0.2, 0.4]], dtype=dtype)):
                x = torch.zeros(3, 2, dtype=dtype, requires_grad=True)
                s = scale.clone().requires_grad_() if isinstance(scale, torch.Tensor) else scale
                try: out = fn(x, dist=name, sampler=sampler, n_samples=n, scale=s, generator=torch.Generator().manual_seed(0))
                except ValueError as e:                                 # the one allowed outcome besides a finite result
                    assert 'overflowed' in str(e) and dtype == torch.float16, (name, est, str(e)); continue
                assert out.dtype == dtype and torch.isfinite(out).all(), (name, est, out)
                if est == 'jacobian': continue                          # an explicit estimate, no graph
                try: gx, *gs = torch.autograd.grad(out.float().sum(), [x] + ([s] if isinstance(s, torch.Tensor) else []))
                except ValueError as e:
                    assert 'overflows' in str(e) and dtype == torch.float16 and magnitude > 1, (name, est, str(e)); continue
                assert torch.isfinite(gx).all() and all(torch.isfinite(g).all() for g in gs), (name, est)

@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16], ids=str)
def test_half_precision_noise_finite_over_many_seeds(dtype):
    for sampler in SAMPLERS:
        for name in DISTRIBUTIONS:
            e = sample_noise(name, 1024, 2, sampler, batch_shape=(50,), generator=torch.Generator().manual_seed(1), dtype=dtype)
            assert torch.isfinite(e).all(), (sampler, name)
