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
    assert [c['kind'] for c in b['cases']] == ['train', 'langevin'] and all(c['check']['passed'] for c in b['cases'])
    assert (out / 'model' / 'energy.json').exists() and (out / 'session.tar.gz').stat().st_size > 1000
