"""The GPU speed script (benchmarks/gpu_speed.sh) at toy size on the CPU: it runs its parts (`msdsm bench --breakdown`,
`msdsm bench --levers`) and leaves their files, and every lever computes fp32 eager's loss and gradients (the check a
GPU run relies on). The levers themselves are checked in nbs/14_bench.ipynb."""
import json, sys
from conftest import run, ROOT


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
