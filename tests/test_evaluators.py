"Evaluators on the real engines: a LocalCluster with 2 worker processes and a ProcessPoolExecutor (issue 14)."
import os, time, concurrent.futures as cf
import pytest, torch
from gss_nbdev.smoothing import smooth, smoothed_jacobian
from gss_nbdev.median import smooth_median
from gss_nbdev.covariance import smoothed_covariance
from gss_nbdev.models import Smoothed
from gss_nbdev.evaluators import DaskEvaluator, ExecutorEvaluator, SerialEvaluator, EvaluationError, EvaluationTimeout

def f_sample(z): return torch.sin(3 * z).sum() + (z[0] > 0)
def f_batch(z): return torch.sin(3 * z).sum(-1) + (z[..., 0] > 0)
def v_sample(z): return torch.stack([z.sum(), (z ** 2).sum(), (z[0] > 0).double()])
def v_batch(z): return torch.stack([z.sum(-1), (z ** 2).sum(-1), (z[..., 0] > 0).double()], -1)

X = torch.tensor([[0.1, -0.2, 0.3], [0.5, 0.0, -1.0]], dtype=torch.float64)
KW = dict(scale=0.5, n_samples=48, sampler='rqmc-sobol')
gen = lambda seed=0: torch.Generator().manual_seed(seed)

@pytest.fixture(scope='module')
def dask_eval():
    with DaskEvaluator(n_workers=2) as ev:
        assert len(ev.client.scheduler_info()['workers']) == 2
        yield ev

def test_same_as_in_process(dask_eval):
    x = X.clone().requires_grad_()
    ref = smooth(f_batch, x, generator=gen(), **KW)
    got = smooth(f_sample, x, generator=gen(), evaluator=dask_eval, **KW)
    assert torch.equal(got, ref)
    gr, = torch.autograd.grad(ref.sum(), x); gg, = torch.autograd.grad(got.sum(), x)
    assert torch.allclose(gg, gr, rtol=0, atol=1e-12)
    torch.testing.assert_close(smoothed_jacobian(f_sample, X, generator=gen(1), evaluator=dask_eval, **KW),
                               smoothed_jacobian(f_batch, X, generator=gen(1), **KW), rtol=0, atol=1e-12)

def test_other_estimators(dask_eval):
    ev = DaskEvaluator(client=dask_eval.client, samples_per_task=7)          # a given client, several samples per task
    torch.testing.assert_close(smooth_median(f_sample, X, k=3, generator=gen(2), evaluator=ev, **KW),
                               smooth_median(f_batch, X, k=3, generator=gen(2), **KW), rtol=0, atol=1e-12)
    torch.testing.assert_close(smoothed_covariance(v_sample, X, generator=gen(3), evaluator=ev, **KW),
                               smoothed_covariance(v_batch, X, generator=gen(3), **KW), rtol=0, atol=1e-12)
    m1, m2 = Smoothed(f_sample, scale=0.5, n_samples=32, evaluator=dask_eval.client), Smoothed(f_batch, scale=0.5, n_samples=32)
    torch.testing.assert_close(m1(X, generator=gen(4)), m2(X, generator=gen(4)), rtol=0, atol=1e-12)
    ev.close(); assert dask_eval.client.status == 'running'                  # closing it leaves the given client open

def _fails_once(marker):
    def f(z):
        if not marker.exists(): marker.touch(); raise RuntimeError("transient failure")
        return f_sample(z)
    return f

def test_retry_then_succeed(dask_eval, tmp_path):
    marker = tmp_path / 'failed'
    got = smooth(_fails_once(marker), X, generator=gen(), evaluator=dask_eval, **KW)
    assert marker.exists() and torch.equal(got, smooth(f_batch, X, generator=gen(), **KW))

def test_worker_death_mid_step(dask_eval, tmp_path):
    marker = tmp_path / 'died'
    def dies_once(z):
        time.sleep(0.01)
        if z[0] > 0.3 and not marker.exists(): marker.touch(); os._exit(1)       # kill this worker process once
        return f_sample(z)
    got = smooth(dies_once, X, generator=gen(), evaluator=dask_eval, **KW)
    assert marker.exists(), "the worker-killing branch never ran"
    assert torch.equal(got, smooth(f_batch, X, generator=gen(), **KW))

def test_permanent_failure_names_input(dask_eval):
    def bad(z):
        if z[0] > 0.6: raise ValueError("simulator diverged")
        return f_sample(z)
    with pytest.raises(EvaluationError) as info:
        smooth(bad, X, generator=gen(), evaluator=dask_eval, **KW)
    e = info.value
    assert e.input is not None and e.input[0] > 0.6 and str(e.input) in str(e)
    assert 'simulator diverged' in str(e) and 'in bad' in e.remote_traceback
    assert all(0 <= i < 2 * 48 for i in e.completed)

def test_nan_reported_like_in_process(dask_eval):
    def nan_sample(z): return torch.tensor(float('nan')) if z[0] > 0.9 else z.sum()
    def nan_batch(z): return torch.where(z[..., 0] > 0.9, float('nan'), z.sum(-1))
    msgs = []
    for f, ev in ((nan_batch, None), (nan_sample, dask_eval)):
        with pytest.raises(ValueError) as info: smooth(f, X, generator=gen(), evaluator=ev, **KW)
        msgs.append(str(info.value))
    assert msgs[0] == msgs[1] and 'non-finite' in msgs[0]

def test_timeout_on_hung_f(tmp_path):
    with DaskEvaluator(n_workers=2, timeout=2) as ev:
        t0 = time.monotonic()
        with pytest.raises(EvaluationTimeout) as info:
            ev(lambda z: time.sleep(600) if z[0] > 0 else 0.0, torch.tensor([[-1.], [1.], [-2.]]))
        assert time.monotonic() - t0 < 30
        assert sorted(info.value.completed) in ([0, 2], [0], [2], [])
        ev.timeout = None
        assert torch.equal(ev(lambda z: z.sum(), torch.ones(4, 2)), torch.full((4,), 2.))   # the cluster still works

def test_process_pool_same_result(tmp_path):
    x = X.clone().requires_grad_()
    ref = smooth(f_batch, x, generator=gen(), **KW)
    with cf.ProcessPoolExecutor(2) as pool:
        got = smooth(lambda z: f_sample(z), x, generator=gen(), evaluator=ExecutorEvaluator(pool, samples_per_task=5), **KW)
        marker = tmp_path / 'failed'
        again = smooth(_fails_once(marker), X, generator=gen(), evaluator=pool, **KW)     # an Executor is wrapped; retried
    assert torch.equal(got, ref) and torch.equal(again, ref.detach()) and marker.exists()
    gr, = torch.autograd.grad(ref.sum(), x); gg, = torch.autograd.grad(got.sum(), x)
    assert torch.allclose(gg, gr, rtol=0, atol=1e-12)

def test_process_pool_worker_death_is_clear(tmp_path):
    with cf.ProcessPoolExecutor(2) as pool:
        with pytest.raises(EvaluationError, match='DaskEvaluator restarts dead workers'):
            ExecutorEvaluator(pool)(lambda z: os._exit(1), torch.ones(3, 2))

def test_progress_bar(capsys):
    SerialEvaluator(progress=True)(lambda z: z.sum(), torch.ones(5, 2))
    assert '5/5' in capsys.readouterr().err

# --- faults (issue 21): f that kills every worker, the right sample named, recovery, loopback-only cluster ---------
def _kills_every_worker(z): os._exit(1)

def _kills_at_three(z):
    if float(z[0]) == 3.0: os._exit(1)
    return z.sum()

def test_killing_every_worker_is_a_clear_bounded_error_and_the_cluster_recovers():
    z = torch.arange(6.)[:, None]
    with DaskEvaluator(n_workers=2, timeout=60) as ev:
        for _ in range(2):                                            # twice: the replaced cluster fails the same way
            t0 = time.monotonic()
            with pytest.raises(EvaluationError, match='died: f crashed its process') as info:
                ev(_kills_every_worker, z)
            assert time.monotonic() - t0 < 60 and info.value.index in range(6)
            assert str([float(info.value.index)]) in str(info.value)  # the input of the sample it names
            assert torch.equal(ev(lambda z: z.sum(-1), z), torch.arange(6.))   # the next call on the same evaluator works
        for _ in range(2):                                            # only sample 3 kills: it is the one named
            with pytest.raises(EvaluationError) as info: ev(_kills_at_three, z)
            assert info.value.index == 3 and info.value.input == [3.0]
        assert torch.equal(ev(lambda z: z.sum(-1), z), torch.arange(6.))

def test_local_cluster_listens_on_loopback_only():
    with DaskEvaluator(n_workers=1) as ev:
        assert ev.client.scheduler.address.startswith('tcp://127.0.0.1:')
        assert ev.client.dashboard_link.startswith('http://127.0.0.1:')
        http = ev._cluster.scheduler.http_server
        hosts = {s.getsockname()[0] for s in http._sockets.values()}
        assert hosts == {'127.0.0.1'}, hosts                          # the dashboard is not bound to 0.0.0.0

def test_unreachable_scheduler_is_a_bounded_connection_error():
    t0 = time.monotonic()
    with pytest.raises(ConnectionError, match="no Dask scheduler answered at 'tcp://127.0.0.1:9' within 3 s"):
        DaskEvaluator(address='tcp://127.0.0.1:9', timeout=3).client
    assert time.monotonic() - t0 < 30

def test_unusable_output_is_not_retried():
    calls = []
    def returns_text(z): calls.append(1); return 'not a number'
    for ev in (SerialEvaluator(retries=3), ExecutorEvaluator(cf.ThreadPoolExecutor(1), retries=3)):
        calls.clear()
        with pytest.raises(EvaluationError, match='f returned str, not a tensor, array or number'):
            ev(returns_text, torch.ones(1, 2))                        # one sample: any second call would be a retry
        assert len(calls) == 1                                        # one call: a rerun would return the same
