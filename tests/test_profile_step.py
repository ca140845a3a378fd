"The GPU profiling script (benchmarks/profile_step.py) at tiny size on the CPU: both views produce their tables."
import json, sys
from conftest import run, ROOT

def test_profile_step_tiny(tmp_path):
    out = tmp_path / 'p.json'
    p = run(sys.executable, ROOT / 'benchmarks' / 'profile_step.py', '--device', 'cpu', '--width', '8', '--batch', '8',
            '--steps', '2', '--json', out, '--run-dir', tmp_path / 'runs', timeout=600)
    r = json.loads(out.read_text())
    (case,) = r['cases']
    phases = {c['phase'] for c in case['convolutions']}
    assert phases == {'forward', 'input gradient', 'double backward'}, phases
    # Res12: stem + 6 blocks × 3 convolutions = 19 forward convolutions
    assert sum(c['phase'] == 'forward' and c['op'] == 'convolution' for c in case['convolutions']) == 19
    assert all(c['shapes'] and c['formats'] for c in case['convolutions'])
    assert case['compiled']['top_kernels'] and case['compiled']['ms_per_step_wall'] > 0
    assert '| phase | op | ms |' in p.stdout
