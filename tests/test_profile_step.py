"`msdsm bench --breakdown` at tiny size on the CPU: both views (convolutions by phase, compiled kernels) are produced."
import json
from conftest import run, MSDSM

def test_breakdown_tiny(tmp_path):
    out = tmp_path / 'p.json'
    p = run(*MSDSM, 'bench', '--breakdown', '--device', 'cpu', '--width', '8', '--batch', '8', '--steps', '2',
            '--json', out, timeout=600)
    r = json.loads(out.read_text())
    (case,) = r['cases']
    assert r['complete'] is True
    phases = {c['phase'] for c in case['convolutions']}
    assert phases == {'forward', 'input gradient', 'double backward'}, phases
    # Res12: stem + 6 blocks × 3 convolutions = 19 forward convolutions
    assert sum(c['phase'] == 'forward' and c['op'] == 'convolution' for c in case['convolutions']) == 19
    assert all(c['shapes'] and c['formats'] for c in case['convolutions'])
    assert case['compiled']['top_kernels'] and case['compiled']['ms_per_step_wall'] > 0
    assert '| phase | op | ms |' in p.stdout
