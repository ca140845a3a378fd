"""Races and failures that need real processes or a real file system: two runs taking one lock at the same instant,
signals in bursts and during start-up, and a disk that really fills up (a small tmpfs) under every writer."""
import json, os, signal, subprocess, sys, textwrap, time
from pathlib import Path
import pytest, torch
from conftest import run, MSDSM, needs_fmnist, ROOT

TINY = ['--recipe', 'fmnist-paper', 'width=8', 'batch_size=16', 'device=cpu', 'progress=false', 'sample_every=0',
        'log_every=5']

TAKE_LOCK = textwrap.dedent("""
    import sys, time
    from msdsm.train import RunLock, RunFolderError
    folders = sys.argv[1:]
    print('ready', flush=True)
    go0 = float(sys.stdin.readline())                 # sent once both interpreters have imported torch
    for k, d in enumerate(folders):                   # trial k starts at the same instant in both processes
        while time.time() < go0 + 0.45 * k: pass
        try:
            with RunLock(d):
                t0 = time.time(); time.sleep(0.25); print(f"held {t0:.6f} {time.time():.6f}", flush=True)
        except RunFolderError: print('refused - -', flush=True)
""")

@pytest.mark.parametrize('start', ['no lock file', 'empty lock file', 'stale lock of a dead pid'])
def test_two_processes_never_both_hold_the_lock(tmp_path, start):
    """15 trials of two processes taking one run folder's lock at the same instant: the two never hold it at once
    (their hold intervals never overlap), and the lock is really contended (most trials end one held, one refused)."""
    script = tmp_path / 'take.py'; script.write_text(TAKE_LOCK)
    folders = [tmp_path / f't{k}' for k in range(15)]
    for d in folders:
        d.mkdir()
        if start == 'empty lock file': (d / 'run.lock').write_text('')
        if start == 'stale lock of a dead pid':
            (d / 'run.lock').write_text(json.dumps(dict(pid=2 ** 22 + 9, host=os.uname().nodename)))
    ps = [subprocess.Popen([sys.executable, '-W', 'ignore', script, *folders], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True) for _ in range(2)]
    for p in ps: assert p.stdout.readline().strip() == 'ready'
    go = f"{time.time() + 0.3}\n"
    for p in ps: p.stdin.write(go); p.stdin.flush()
    a, b = ([line.split() for line in p.communicate(timeout=120)[0].splitlines()] for p in ps)
    assert len(a) == len(b) == 15, (a, b)
    for k, (x, y) in enumerate(zip(a, b)):
        if x[0] == y[0] == 'held':                    # both held: only one after the other is allowed
            (s1, e1), (s2, e2) = sorted([(float(x[1]), float(x[2])), (float(y[1]), float(y[2]))])
            assert e1 <= s2, f"trial {k}: both held the lock at once ({x}, {y})"
    assert sum(sorted([x[0], y[0]]) == ['held', 'refused'] for x, y in zip(a, b)) >= 8, list(zip(a, b))
    assert not any((d / 'run.lock').exists() for d in folders)


def _start(out, *extra):
    return subprocess.Popen([*MSDSM, 'train', *TINY, *extra, 'iterations=100000', 'ckpt_every=100000',
                             f'out_dir={out}'], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, 'MSDSM_OFFLINE': '1', 'PYTHONUNBUFFERED': '1'})

@needs_fmnist
@pytest.mark.parametrize('burst,gap', [((signal.SIGTERM, signal.SIGTERM), 0.02),
                                       ((signal.SIGINT, signal.SIGTERM, signal.SIGINT, signal.SIGTERM), 0.02),
                                       ((signal.SIGTERM, signal.SIGINT), 0.005)])
def test_a_burst_of_signals_still_ends_with_a_checkpoint(tmp_path, burst, gap):
    "Signals ms apart, in any order: the run still stops at a step boundary with a checkpoint; the first decides the exit status."
    out = tmp_path / 'burst'
    p = _start(out)
    t0 = time.time()
    while not (out / 'log.jsonl').exists() and time.time() - t0 < 120: time.sleep(0.05)
    for s in burst: p.send_signal(s); time.sleep(gap)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 128 + burst[0], err[-2000:]
    assert f'{signal.Signals(burst[0]).name}: stopped after step' in err and 'Traceback' not in err, err[-2000:]
    (ck,) = (out / 'checkpoints').glob('ckpt-*.pt')
    from msdsm.io import load_checkpoint
    assert load_checkpoint(ck)['step'] == int(ck.stem.split('-')[1]) > 0

@needs_fmnist
def test_a_signal_as_the_run_ends_is_reported(tmp_path):
    "SIGINT after the last step (during the final preview): the run completes its export, says so, exits 130."
    out = tmp_path / 'end'
    p = subprocess.Popen([*MSDSM, 'train', *TINY, 'iterations=10', 'log_every=10', 'sample_every=1000',
                          'sample_steps=200', 'sample_n=4', f'out_dir={out}'], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env={**os.environ, 'MSDSM_OFFLINE': '1'})
    t0 = time.time()
    while '"step": 10' not in ((out / 'log.jsonl').read_text() if (out / 'log.jsonl').exists() else '') \
            and time.time() - t0 < 120: time.sleep(0.02)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 130 and 'SIGINT as the run ended: it is complete' in err, err[-2000:]
    from msdsm.io import load_energy
    assert load_energy(out / 'energy') is not None and (out / 'checkpoints' / 'ckpt-00000010.pt').exists()


@needs_fmnist
@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize('delay', [0.3, 1.5])
def test_a_signal_during_start_up_exits_cleanly(tmp_path, sig, delay):
    "A signal while torch is imported or the data load (before the first step): one line, 128 + signum, no traceback."
    out = tmp_path / 'early'
    p = _start(out); time.sleep(delay); p.send_signal(sig)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 128 + sig, err[-2000:]
    assert 'Traceback' not in err and signal.Signals(sig).name in err, err[-2000:]
    assert not list((out / 'checkpoints').glob('*.pt')) if (out / 'checkpoints').exists() else True


@pytest.fixture
def tiny_fs(tmp_path):
    "A 16 MiB tmpfs: a disk that really fills up. Needs root and a kernel that lets us mount."
    d = tmp_path / 'fs'; d.mkdir()
    if subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', str(d)], capture_output=True).returncode:
        pytest.skip('cannot mount a small tmpfs here (needs root)')
    yield d
    subprocess.run(['umount', '-l', str(d)])

def _fill(fs, leave: int):
    "Fill the file system until only `leave` bytes are free."
    free = os.statvfs(fs).f_bavail * os.statvfs(fs).f_frsize
    (fs / 'ballast').write_bytes(b'\0' * max(0, free - leave))

def test_a_full_disk_under_every_writer(tiny_fs):
    "Checkpoint, export, samples, results: each says 'no space left', keeps the previous file, leaves no temp file."
    from msdsm.io import atomic_save, save_energy, WriteError, load_energy
    from msdsm.energy import res12
    from msdsm.reproduce import Outputs
    ck = atomic_save({'format': 'msdsm-checkpoint-1', 'step': 2}, tiny_fs / 'checkpoints' / 'ckpt-00000002.pt')
    net = res12(1, 8)
    save_energy(net, tiny_fs / 'energy')
    before = (tiny_fs / 'energy' / 'energy.safetensors').read_bytes()
    res = Outputs(tiny_fs, 'exp', 'smoke').save_results({'a': 1}, no_baseline='a test record')
    _fill(tiny_fs, 4096)
    big = {'format': 'msdsm-checkpoint-1', 'step': 4, 'w': torch.zeros(2 ** 18)}     # 1 MiB
    with pytest.raises(WriteError, match='no space left.*previous checkpoint .*ckpt-00000002.pt is intact'):
        atomic_save(big, tiny_fs / 'checkpoints' / 'ckpt-00000004.pt', f'the previous checkpoint {ck} is intact')
    with pytest.raises(WriteError, match='no space left.*previous export'):
        save_energy(res12(1, 8), tiny_fs / 'energy')
    with pytest.raises(WriteError, match='no space left'):
        atomic_save({'samples': torch.zeros(1000, 1, 32, 32)}, tiny_fs / 'samples.pt')
    with pytest.raises(WriteError, match='no space left.*previous exp.json is intact'):
        Outputs(tiny_fs, 'exp', 'smoke').save_results({'a': [0.0] * 200_000}, no_baseline='a test record')
    assert (tiny_fs / 'energy' / 'energy.safetensors').read_bytes() == before and load_energy(tiny_fs / 'energy')
    assert json.loads(res.read_text())['a'] == 1 and torch.load(ck)['step'] == 2
    left = [p.name for p in tiny_fs.rglob('.*.tmp')]
    assert not left, left

@needs_fmnist
def test_a_full_disk_during_training_says_so(tiny_fs):
    "The real command on a disk that fills at a checkpoint: exit 2, one line naming the disk, the last checkpoint intact."
    out = tiny_fs / 'run'
    ok = run(*MSDSM, 'train', *TINY, 'iterations=5', 'ckpt_every=5', f'out_dir={out}')
    _fill(tiny_fs, 64 * 1024)
    p = run(*MSDSM, 'train', '--resume', out, 'iterations=10', check=False)
    assert p.returncode == 2 and 'no space left' in p.stderr and 'ckpt-00000005.pt is intact' in p.stderr, p.stderr[-2000:]
    assert 'Traceback' not in p.stderr
    from msdsm.io import load_checkpoint
    assert load_checkpoint(out / 'checkpoints' / 'ckpt-00000005.pt')['step'] == 5
    assert not list(out.rglob('.*.tmp'))


@needs_fmnist
def test_temp_files_of_a_killed_writer_are_removed_at_the_next_start(tmp_path):
    "What a writer killed mid-checkpoint leaves (`.NAME.msdsm-PID.HOST.tmp`, its pid gone) is gone at the next start; others' files stay."
    out = tmp_path / 'r'
    run(*MSDSM, 'train', *TINY, 'iterations=5', 'ckpt_every=5', f'out_dir={out}')
    host = os.uname().nodename
    left = [out / 'checkpoints' / f'.ckpt-00000010.pt.msdsm-{2 ** 22 + 5}.{host}.tmp',
            out / f'.config.yaml.msdsm-{2 ** 22 + 7}.{host}.tmp']
    users = [out / f'.notes.{2 ** 22 + 6}.tmp', out / f'.draft.msdsm-{2 ** 22 + 8}.otherhost.tmp']   # not ours: kept
    for f in left + users: f.write_bytes(b'half a checkpoint')
    (out / f'.folder.msdsm-{2 ** 22 + 9}.{host}.tmp').mkdir()
    run(*MSDSM, 'train', '--resume', out, 'iterations=6')
    assert not any(f.exists() for f in left) and all(f.exists() for f in users)
    assert (out / f'.folder.msdsm-{2 ** 22 + 9}.{host}.tmp').is_dir()


def test_every_png_and_jpeg_mode_is_converted_or_refused(tmp_path):
    "Gray, 1-bit, 16-bit, palette, alpha, CMYK: read as 8-bit gray or RGB with the right values; 32-bit float refused."
    import numpy as np
    from PIL import Image
    from msdsm.io import read_image
    g = np.arange(64, dtype=np.uint8).reshape(8, 8) * 4
    cases = {'L.png': (Image.fromarray(g), g), 'LA.png': (Image.fromarray(g).convert('LA'), g),
             'I16.png': (Image.fromarray(g.astype(np.uint16) * 257), g),
             '1.png': (Image.fromarray(g > 127), np.where(g > 127, 255, 0)),
             'RGBA.png': (Image.fromarray(np.stack([g] * 3, -1)).convert('RGBA'), np.stack([g] * 3, -1)),
             'P.png': (Image.fromarray(np.stack([g] * 3, -1)).convert('P'), None),
             'CMYK.jpg': (Image.fromarray(np.stack([g] * 3, -1)).convert('CMYK'), None)}
    for name, (im, want) in cases.items():
        im.save(tmp_path / name)
        a = read_image(tmp_path / name)
        assert a.dtype == np.uint8 and a.shape in ((8, 8), (8, 8, 3)), (name, a.dtype, a.shape)
        if want is not None: assert np.array_equal(a, want), name
    Image.fromarray(g.astype(np.float32)).save(tmp_path / 'F.tiff')
    (tmp_path / 'F.png').write_bytes((tmp_path / 'F.tiff').read_bytes())     # a float image under a .png name
    with pytest.raises(ValueError, match='32-bit integer or float'): read_image(tmp_path / 'F.png')


def test_feature_extractor_weights_and_caches_run_no_code(tmp_path, monkeypatch):
    "torch-fidelity loads weights and its feature cache unrestricted; msdsm.metrics.evaluate makes every such load weights-only."
    from msdsm.metrics import evaluate
    sentinel = tmp_path / 'ran'
    class Payload:
        def __reduce__(self): return (os.system, (f'touch {sentinel}',))
    x = torch.rand(40, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    cache = tmp_path / 'cache'
    evaluate(x, 'fashion_mnist:test', metrics=('fid',), n=200, cache_root=cache)           # fills the cache
    files = sorted(cache.rglob('*.pt'))
    assert files
    for f in files: torch.save({'x': Payload()}, f)                                       # poison every cache file
    with pytest.raises(ValueError, match='refused to load'):
        evaluate(x, 'fashion_mnist:test', metrics=('fid',), n=200, cache_root=cache)
    assert not sentinel.exists()
