"""The speed-lever script (benchmarks/levers.py) at tiny size on the CPU: every variant computes the same loss and
gradients as fp32 eager (the check a GPU run relies on); a variant over its budget is recorded, not fatal; the GPU
script (benchmarks/gpu_speed.sh) runs its parts and leaves their files."""
import json, sys
import torch
from conftest import run, ROOT

sys.path.insert(0, str(ROOT / 'benchmarks'))
import levers


def test_stem_variants_are_the_same_function():
    conv = torch.nn.Conv2d(1, 8, 3, padding=1)
    x = torch.rand(4, 1, 32, 32, dtype=torch.float64, requires_grad=True); conv = conv.double()
    for how in ('unfold', 'pad8', 'nchw', 'fp32'):
        s = levers.Stem(conv, how)
        assert dict(s.named_parameters()).keys() == {'weight', 'bias'}        # state dicts unchanged
        y, y0 = s(x), conv(x)
        assert torch.allclose(y.double(), y0, atol=1e-5), how
        # and the same derivatives, second order included (the MDSM loss differentiates the input gradient)
        g, = torch.autograd.grad(y.pow(2).sum(), x, create_graph=True)
        g0, = torch.autograd.grad(y0.pow(2).sum(), x, create_graph=True)
        w, = torch.autograd.grad(g.pow(2).sum(), conv.weight); w0, = torch.autograd.grad(g0.pow(2).sum(), conv.weight)
        assert torch.allclose(g.double(), g0, atol=1e-4) and torch.allclose(w.double(), w0, rtol=1e-4), how


def test_a_variant_over_budget_is_recorded(tmp_path):
    out = tmp_path / 'l.json'
    run(sys.executable, ROOT / 'benchmarks' / 'levers.py', '--device', 'cpu', '--width', '8', '--batch', '8',
        '--only', 'default', '--budget', '1', '--json', out, timeout=120)
    (v,) = json.loads(out.read_text())['variants']
    assert v['status'] == 'timed out after 1 s', v


def test_gpu_speed_script_tiny(tmp_path):
    out = tmp_path / 'out'
    p = run('bash', ROOT / 'benchmarks' / 'gpu_speed.sh', 'profile', timeout=900,
            env=dict(OUT=str(out), TINY='1', DEVICE='cpu', PY=sys.executable))
    assert '== profile exit 0' in p.stdout and '== levers exit 0' in p.stdout, p.stdout[-2000:]
    assert {'profile.json', 'levers.json', 'profile.log', 'levers.log'} <= {f.name for f in out.iterdir()}
    r = json.loads((out / 'levers.json').read_text())
    assert [v['variant'] for v in r['variants']] == ['default', 'stem_unfold'], r['variants']   # TINY's two
    for v in r['variants']:      # every variant computes fp32 eager's loss and gradients, and is timed
        assert v['status'] == 'ok' and v['check']['passed'] and v['check']['params_without_grad'] == 0, v
        assert v['step']['median_ms'] > 0
    log = (out / 'levers.log').read_text()
    assert '| stem_unfold |' in log and '× vs default' in log
