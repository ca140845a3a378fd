"The GPU session script (benchmarks/gpu_session.py) at tiny size on the CPU: every phase runs and writes its outputs."
import json, os, sys
from conftest import run, needs_fmnist, ROOT, FMNIST_DEBIAN

@needs_fmnist
def test_gpu_session_tiny(tmp_path):
    out = tmp_path / 'out'
    run(sys.executable, ROOT / 'benchmarks' / 'gpu_session.py', '--out', out, '--data-dir', FMNIST_DEBIAN, '--tiny', '--budget', 300,
        env={'PYTHONPATH': str(ROOT)}, timeout=600)
    s = json.loads((out / 'summary.json').read_text())
    assert s['phases']['train']['iterations'] == 40 and s['phases']['sample']['n'] == 16
    b = json.loads((out / 'bench.json').read_text())
    assert b['cases'] and all(c['check']['passed'] and c['msdsm']['median_ms'] > 0 for c in b['cases'])
    import torch
    from msdsm.io import load_energy
    m = load_energy(out / 'model')
    with torch.no_grad(): assert torch.isfinite(m(torch.rand(4, 1, 32, 32))).all()
    assert (out / 'session.tar.gz').stat().st_size > 1000
