"""Bad input, table-driven: each case is one real `msdsm` command that must end with exit status 2 (1 for a run that
failed), one line on stderr naming what was wrong, no traceback — and must leave what was there untouched."""
import hashlib, json, os, shutil
from pathlib import Path
import pytest, torch
from conftest import run, MSDSM, needs_fmnist, ROOT

TINY = ['--recipe', 'fmnist-paper', 'width=8', 'batch_size=16', 'device=cpu', 'progress=false', 'sample_every=0',
        'log_every=5']
MODEL = ROOT / 'models' / 'fmnist-paper'
SENTINEL = Path('/tmp/msdsm-bad-input-sentinel')


class _Exploit:
    "A pickle that runs `touch SENTINEL` when loaded without weights_only."
    def __reduce__(self): return (os.system, (f'touch {SENTINEL}',))


def digest(path: Path) -> str:
    "A hash of a file or of every file in a folder (names and bytes): 'nothing overwritten' is checked with it."
    if path.is_file(): return hashlib.sha1(path.read_bytes()).hexdigest()
    h = hashlib.sha1()
    for p in sorted(path.rglob('*')):
        if p.is_file(): h.update(str(p.relative_to(path)).encode() + p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope='module')
def finished_run(tmp_path_factory):
    "A tiny finished run (checkpoints, log, exported model)."
    out = tmp_path_factory.mktemp('runs') / 'done'
    run(*MSDSM, 'train', *TINY, 'iterations=10', 'ckpt_every=5', f'out_dir={out}')
    return out


def _cases(tmp: Path, done: Path):
    "(name, args, expected text, exit status, paths that must not change). Files the cases need are made here."
    (tmp / 'afile').write_text('not a folder')
    (tmp / 'exists.png').write_bytes(b'an image already here'); (tmp / 'exists.pt').write_bytes(b'and its samples')
    shutil.copy(sorted((done / 'checkpoints').glob('*.pt'))[-1], tmp / 'ckpt.pt')
    torch.save({'samples': torch.rand(30, 1, 32, 32) * 2 - 1}, tmp / 'pm1.pt')
    torch.save({'samples_uint8': torch.zeros(5, 1, 32, 32, dtype=torch.uint8)}, tmp / 'five.pt')
    torch.save({'samples': torch.zeros(30, 1, 32, 32), 'x': _Exploit()}, tmp / 'evil.pt')
    (tmp / 'imgs').mkdir(); (tmp / 'imgs' / 'x.png').write_text('a text file, not a png')
    trunc = tmp / 'truncated'; shutil.copytree(MODEL, trunc)
    shard = sorted(trunc.glob('energy-*.safetensors'))[-1]; shard.write_bytes(shard.read_bytes()[:1000])
    evil_run = tmp / 'evil_run'; (evil_run / 'checkpoints').mkdir(parents=True)
    shutil.copy(tmp / 'evil.pt', evil_run / 'checkpoints' / 'ckpt-00000005.pt')
    empty_log = tmp / 'empty_log'; empty_log.mkdir(); (empty_log / 'log.jsonl').write_text('{"step": 1, "lo')
    return [
        ('non-integer batch size', ['train', *TINY, 'batch_size=abc', f'out_dir={tmp}/r1'], "batch_size='abc': expected an integer", 2, []),
        ('out_dir is a file', ['train', *TINY, 'iterations=2', f'out_dir={tmp}/afile'], 'exists and is not a folder', 2, [tmp / 'afile']),
        ('unwritable out_dir', ['train', *TINY, 'iterations=2', 'out_dir=/sys/msdsm-run'], 'cannot write /sys/msdsm-run', 2, []),
        ('new run into a finished run', ['train', *TINY, 'iterations=2', f'out_dir={done}'], 'already holds another run', 2, [done]),
        ('resume changing the model', ['train', '--resume', done, 'width=16'], 'cannot change width', 2, [done]),
        ('resume with a recipe', ['train', '--resume', done, '--recipe', 'fmnist-paper'], 'drop --recipe', 2, [done]),
        ('resume an unsafe checkpoint', ['train', '--resume', evil_run], 'could be read', 2, [evil_run]),
        ('model file name typo', ['sample', MODEL / 'typo.safetensors', '--out', f'{tmp}/s.png'], 'does not exist', 2, [MODEL]),
        ('truncated shard', ['sample', trunc, '--n', '2', '--out', f'{tmp}/s.png'], 'not a readable safetensors file', 2, []),
        ('unsafe model file', ['sample', tmp / 'evil.pt', '--out', f'{tmp}/s.png'], 'refused to load', 2, [tmp / 'evil.pt']),
        ('zero samples', ['sample', MODEL, '--n', '0'], '--n must be at least 1', 2, []),
        ('output exists', ['sample', MODEL, '--n', '1', '--out', tmp / 'exists.png'], 'already exist', 2, [tmp / 'exists.png', tmp / 'exists.pt']),
        ('output beside a checkpoint', ['sample', MODEL, '--n', '1', '--out', tmp / 'ckpt.png', '--force'], 'is a training checkpoint', 2, [tmp / 'ckpt.pt']),
        ('schedule unknown', ['sample', MODEL, '--schedule', 'cosine', '--out', f'{tmp}/s.png'], 'unknown schedule', 2, []),
        ('evaluate zero', ['evaluate', tmp / 'pm1.pt', '--n', '0'], '--n must be at least 1', 2, []),
        ('evaluate [-1, 1] floats', ['evaluate', tmp / 'pm1.pt'], 'rescale', 2, []),
        ('evaluate 5 images', ['evaluate', tmp / 'five.pt'], 'at least 20', 2, []),
        ('evaluate a text file named x.png', ['evaluate', tmp / 'imgs'], 'x.png is not a readable image', 2, []),
        ('evaluate an unsafe file', ['evaluate', tmp / 'evil.pt'], 'refused to load', 2, [tmp / 'evil.pt']),
        ('plot an empty log', ['plot', empty_log], 'has no training records', 2, []),
        ('diverging run, no checkpoint yet', ['train', *TINY, 'lr=1e10', 'iterations=40', f'out_dir={tmp}/nan'], 'nothing to resume', 1, []),
    ]


@needs_fmnist
def test_bad_inputs(tmp_path, finished_run):
    SENTINEL.unlink(missing_ok=True)
    failures = []
    for name, args, text, code, keep in _cases(tmp_path, finished_run):
        before = {p: digest(p) for p in keep}
        p = run(*MSDSM, *args, check=False, timeout=300)
        err = p.stderr.strip().splitlines()
        line = next((l for l in err if l.startswith('msdsm ')), '')
        ok = (p.returncode == code and text in line and 'Traceback' not in p.stderr and
              all(digest(q) == h for q, h in before.items()))
        print(f"{name:36s} exit {p.returncode}  {line[:150]}")
        if not ok: failures.append(f"{name}: exit {p.returncode} (want {code}), stderr:\n{p.stderr[-1500:]}")
    assert not SENTINEL.exists(), 'a pickle ran code'
    assert not failures, '\n\n'.join(failures)


@needs_fmnist
def test_things_that_used_to_fail_now_work(tmp_path, finished_run):
    # out_dir=2024 is a folder name; a '#' in it is kept (not a YAML comment)
    run(*MSDSM, 'train', *TINY, 'iterations=2', 'out_dir=2024', cwd=tmp_path)
    assert (tmp_path / '2024' / 'energy' / 'energy.json').exists()
    run(*MSDSM, 'train', *TINY, 'iterations=2', f'out_dir={tmp_path}/a #1')
    assert (tmp_path / 'a #1' / 'checkpoints').is_dir()
    # --steps applies to the default schedule; the samples file says how many steps ran
    p = run(*MSDSM, 'sample', finished_run, '--n', '2', '--steps', '5', '--out', tmp_path / 's.png', '--quiet')
    assert '5-step paper schedule' in p.stdout and torch.load(tmp_path / 's.pt')['steps'] == 5
    # --rescale maps [-1, 1] samples instead of refusing them
    torch.save({'samples': torch.rand(30, 1, 32, 32) * 2 - 1}, tmp_path / 'pm1.pt')
    run(*MSDSM, 'evaluate', tmp_path / 'pm1.pt', '--rescale', '--metrics', 'isc')
    # a truncated last log line is skipped with a warning naming the file
    with open(finished_run / 'log.jsonl', 'a') as f: f.write('{"step": 99, "lo')
    p = run(*MSDSM, 'plot', finished_run, '--out', tmp_path / 'c.png')
    assert 'skipping a truncated record' in p.stderr and (tmp_path / 'c.png').stat().st_size > 1000


def test_disk_full_during_checkpoint(tmp_path, monkeypatch, capsys):
    "A checkpoint write that runs out of space: exit 2, a message naming the file, the previous checkpoint intact."
    from msdsm import cli, io
    imgs = torch.randint(0, 256, (64, 1, 32, 32), dtype=torch.uint8)
    monkeypatch.setattr('msdsm.train.load_images', lambda *a, **k: (imgs, None))
    args = ['train', '--recipe', 'fmnist-paper', 'width=8', 'batch_size=8', 'device=cpu', 'progress=false',
            'sample_every=0', 'iterations=4', 'ckpt_every=2', f'out_dir={tmp_path}/r']
    real_save = torch.save
    def full_disk(obj, f):
        if obj.get('step') == 4: raise OSError(28, 'No space left on device')
        return real_save(obj, f)
    monkeypatch.setattr(io.torch, 'save', full_disk)
    with pytest.raises(SystemExit) as e: cli.main(args)
    err = capsys.readouterr().err
    assert e.value.code == 2 and 'ckpt-00000004.pt' in err and 'No space left' in err and 'intact' in err
    monkeypatch.undo()
    assert io.load_checkpoint(tmp_path / 'r' / 'checkpoints' / 'ckpt-00000002.pt')['step'] == 2
    assert sorted(p.name for p in (tmp_path / 'r' / 'checkpoints').iterdir()) == ['ckpt-00000002.pt']
