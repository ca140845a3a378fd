"""The full-training GPU script (benchmarks/train_full.py) at tiny size on the CPU: a call cut by its time budget stops
with a checkpoint, a second call finishes the same run, and the result equals one uninterrupted run bit for bit."""
import json, sys, tarfile
import torch
from conftest import run, needs_fmnist, ROOT, FMNIST_DEBIAN

SCRIPT = ROOT / 'benchmarks' / 'train_full.py'

@needs_fmnist
def test_two_calls_equal_one_uninterrupted_run(tmp_path):
    from msdsm.io import load_checkpoint, load_energy
    args = ['--tiny', '--data-dir', FMNIST_DEBIAN, '--milestone-n', '8']
    first = run(sys.executable, SCRIPT, *args, '--run', tmp_path / 'split', '--out', tmp_path / 'out1', '--budget', 1,
                timeout=600)
    s1 = json.loads(first.stdout[first.stdout.index('{'):first.stdout.rindex('}') + 1])
    assert not s1['finished'] and 0 < s1['step'] < 160, s1
    run(sys.executable, SCRIPT, *args, '--run', tmp_path / 'split', '--out', tmp_path / 'out2', '--budget', 300, timeout=600)
    run(sys.executable, SCRIPT, *args, '--run', tmp_path / 'straight', '--out', tmp_path / 'out3', '--budget', 300, timeout=600)
    a = load_checkpoint(tmp_path / 'split' / 'checkpoints' / 'ckpt-00000160.pt')
    b = load_checkpoint(tmp_path / 'straight' / 'checkpoints' / 'ckpt-00000160.pt')
    for part in ('model', 'ema'):
        for n, t in a[part].items(): assert torch.equal(t, b[part][n]), (part, n)
    with tarfile.open(tmp_path / 'out2' / 'run.tar.gz') as tar:
        names = tar.getnames()
        log = [json.loads(l) for l in tar.extractfile('log.jsonl').read().decode().splitlines()]
    assert {f'samples/samples-{s:08d}.pt' for s in (40, 80, 120, 160)} <= set(names), names
    assert [r['step'] for r in log if r.get('event') == 'resume'] == [s1['step']]
    m = load_energy(tmp_path / 'out2' / 'model')                 # the returned float16 EMA weights load
    assert json.loads((tmp_path / 'out2' / 'model' / 'energy.json').read_text())['step'] == 160
    files = [p for p in (tmp_path / 'out2').rglob('*') if p.is_file()]
    assert len(files) <= 8 and all(p.stat().st_size <= 15.5 * 2 ** 20 for p in files)
