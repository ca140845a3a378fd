"Training failure behaviour that needs real processes: SIGKILL + resume, crash while checkpointing, DDP, a real run."
import json, os, signal, subprocess, sys, time
from pathlib import Path
import pytest, torch
from conftest import run, MSDSM, needs_fmnist, ROOT

TINY = ['--recipe', 'fmnist-paper', 'width=8', 'batch_size=16', 'device=cpu', 'progress=false', 'sample_every=0', 'log_every=20']

def weights(run_dir, step):
    from msdsm.io import load_checkpoint
    return load_checkpoint(Path(run_dir) / 'checkpoints' / f'ckpt-{step:08d}.pt')

@needs_fmnist
def test_sigkill_then_resume_is_bitwise_identical(tmp_path):
    a, b = tmp_path / 'straight', tmp_path / 'killed'
    run(*MSDSM, 'train', *TINY, 'iterations=120', 'ckpt_every=20', f'out_dir={a}', 'keep_ckpts=10')
    p = subprocess.Popen([*MSDSM, 'train', *TINY, 'iterations=120', 'ckpt_every=20', f'out_dir={b}', 'keep_ckpts=10'],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, 'MSDSM_OFFLINE': '1'})
    target = b / 'checkpoints' / 'ckpt-00000040.pt'
    t0 = time.time()
    while not target.exists() and p.poll() is None and time.time() - t0 < 120: time.sleep(0.01)
    p.send_signal(signal.SIGKILL); p.wait()
    assert p.returncode == -signal.SIGKILL, 'the run finished before it could be killed'
    done = sorted(x.name for x in (b / 'checkpoints').glob('ckpt-*.pt'))
    assert 'ckpt-00000120.pt' not in done
    out = run(*MSDSM, 'train', '--resume', b).stdout
    assert 'resuming at step' in out
    wa, wb = weights(a, 120), weights(b, 120)
    for k in ('model', 'ema'):
        for n, t in wa[k].items(): assert torch.equal(t, wb[k][n]), (k, n)
    assert wa['step'] == wb['step'] == 120

def _ck(step, **kw):
    "The smallest dict `load_checkpoint` accepts as a checkpoint."
    from msdsm.io import CKPT_FORMAT
    return dict(format=CKPT_FORMAT, step=step, config={}, model={}, opt={}, sched={}, data={}, **kw)

def test_crash_while_writing_keeps_previous_checkpoint(tmp_path, monkeypatch):
    from msdsm import io as train          # checkpoints live in msdsm.io
    good = train.atomic_save(_ck(1, x=1), tmp_path / 'ckpt.pt')
    def dying_save(obj, f):
        f.write(b'half a checkpoint'); raise KeyboardInterrupt('killed mid-write')
    monkeypatch.setattr(train.torch, 'save', dying_save)
    with pytest.raises(KeyboardInterrupt): train.atomic_save(_ck(2, x=2), tmp_path / 'ckpt.pt')
    monkeypatch.undo()
    assert train.load_checkpoint(good)['x'] == 1
    assert [p.name for p in tmp_path.iterdir()] == ['ckpt.pt']          # no temp file left behind

def test_truncated_newest_checkpoint_falls_back(tmp_path):
    from msdsm import io as train
    d = tmp_path / 'checkpoints'
    train.atomic_save(_ck(10), d / 'ckpt-00000010.pt')
    (d / 'ckpt-00000020.pt').write_bytes(b'\x80\x02garbage')
    with pytest.warns(UserWarning, match='skipping unreadable'): p, ck = train.latest_checkpoint(tmp_path)
    assert ck['step'] == 10

@needs_fmnist
def test_time_limit_stops_with_a_checkpoint_and_resumes(tmp_path):
    "--time-limit stops at a step boundary with a checkpoint and exit 75; --resume continues (bit-exactness: 07_train)."
    args = [*TINY, 'iterations=100000', 'ckpt_every=100000', 'sample_every=1', 'sample_steps=2', 'sample_save=true']
    cut = run(*MSDSM, 'train', *args, f'out_dir={tmp_path}', '--time-limit', '8s', check=False)
    assert cut.returncode == 75 and 'time limit: stopped after step' in cut.stderr, cut.stderr[-1500:]
    (ck,) = (tmp_path / 'checkpoints').glob('ckpt-*.pt')
    step = int(ck.stem.split('-')[1]); assert step > 0
    kept = torch.load(sorted((tmp_path / 'samples').glob('step-*.pt'))[-1], weights_only=True)       # sample_save
    assert kept['samples_uint8'].dtype == torch.uint8 and kept['step'] == step
    done = run(*MSDSM, 'train', '--resume', tmp_path, f'iterations={step + 3}', '--time-limit', '1h')
    assert f'done: step {step + 3}' in done.stdout and weights(tmp_path, step + 3)['step'] == step + 3

def test_a_file_named_after_a_later_step_prunes_nothing(tmp_path):
    "Pruning keeps this run's newest checkpoints; a foreign ckpt-99999999.pt is not a reason to delete them."
    from msdsm.train import RunFolderError, Trainer, make_config
    imgs = torch.randint(0, 256, (64, 1, 32, 32), dtype=torch.uint8)
    cfg = make_config('fmnist-paper', overrides=['width=8', 'batch_size=8', 'device=cpu', 'progress=false', 'iterations=2',
                                                 'ckpt_every=2', 'keep_ckpts=2', 'sample_every=0', f'out_dir={tmp_path}'])
    Trainer(cfg, images=imgs).fit()
    (tmp_path / 'checkpoints' / 'ckpt-99999999.pt').write_bytes(b'not ours')       # someone's file: nothing is touched
    with pytest.raises(RunFolderError, match='ckpt-99999999.pt is not that'):
        Trainer.resume(tmp_path, overrides=['iterations=6'], images=imgs).fit()
    whole = (tmp_path / 'checkpoints' / 'ckpt-00000002.pt').read_bytes()      # a checkpoint a copy cut short: skipped
    (tmp_path / 'checkpoints' / 'ckpt-99999999.pt').write_bytes(whole[:len(whole) // 2])
    with pytest.warns(UserWarning, match='skipping unreadable'):
        Trainer.resume(tmp_path, overrides=['iterations=6'], images=imgs).fit()
    assert sorted(p.name for p in (tmp_path / 'checkpoints').iterdir()) == ['ckpt-00000004.pt', 'ckpt-00000006.pt',
                                                                           'ckpt-99999999.pt']

@needs_fmnist
def test_ddp_two_processes_equal_one_process(tmp_path):
    args = [*TINY, 'iterations=6', 'ckpt_every=6']
    run(*MSDSM, 'train', *args, f'out_dir={tmp_path / "one"}')
    torchrun = Path(sys.executable).parent / 'torchrun'
    run(torchrun, '--standalone', '--nproc_per_node=2', '-m', 'msdsm.cli', 'train', *args, f'out_dir={tmp_path / "two"}',
        env={'OMP_NUM_THREADS': '1'})
    a, b = weights(tmp_path / 'one', 6)['model'], weights(tmp_path / 'two', 6)['model']
    for n, t in a.items():
        torch.testing.assert_close(b[n], t, rtol=1e-4, atol=1e-6, msg=n)
    assert json.loads((tmp_path / 'two' / 'log.jsonl').read_text().splitlines()[-1])['step'] == 6

@needs_fmnist
def test_300_step_run_lowers_loss_and_draws_a_grid(tmp_path):
    out = tmp_path / 'r300'
    run(*MSDSM, 'train', '--recipe', 'fmnist-paper', 'width=8', 'batch_size=32', 'iterations=300', 'log_every=50',
        'lr=1e-3', 'device=cpu', 'progress=false', 'sample_every=300', 'sample_steps=100', f'out_dir={out}')
    log = [json.loads(l) for l in (out / 'log.jsonl').read_text().splitlines()]
    first, last = log[0]['loss'], log[-1]['loss']
    print(f"loss (reference units) {first:.1f} → {last:.1f}")
    assert last < 0.7 * first
    grid = out / 'samples' / 'step-00000300.png'
    assert grid.stat().st_size > 1000
    keep = ROOT / 'runs' / 'test-artifacts'; keep.mkdir(parents=True, exist_ok=True)   # for a person to look at
    (keep / 'r300-samples.png').write_bytes(grid.read_bytes())

def _interrupt(out, sig, extra=(), preexec=None):
    "Start a long tiny run, wait until it has logged, send `sig`; return (exit status, stderr)."
    p = subprocess.Popen([*MSDSM, 'train', *TINY, *extra, 'iterations=100000', 'ckpt_every=100000', f'out_dir={out}'],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=preexec,
                         env={**os.environ, 'MSDSM_OFFLINE': '1'})
    t0 = time.time()
    while not (out / 'log.jsonl').exists() and time.time() - t0 < 120: time.sleep(0.05)    # a few steps in
    p.send_signal(sig); _, err = p.communicate(timeout=120)
    return p.returncode, err

@needs_fmnist
@pytest.mark.parametrize('sig,code', [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_at_a_step_boundary(tmp_path, sig, code):
    """SIGINT/SIGTERM: exit 130/143, one checkpoint equal to a clean run's state at that step (model, EMA, Adam, data
    position, noise generator), and resuming from it continues exactly as an uninterrupted run."""
    from msdsm.train import Trainer, make_config
    from msdsm.data import load_images
    out = tmp_path / 'int'
    rc, err = _interrupt(out, sig)
    assert rc == code, err[-2000:]
    cks = list((out / 'checkpoints').glob('ckpt-*.pt'))
    assert len(cks) == 1 and f'{signal.Signals(sig).name}: stopped after step' in err and '--resume' in err
    ck = weights(out, k := int(cks[0].stem.split('-')[1]))
    assert k >= 20
    cfg = make_config(base=ck['config'], overrides=[f'out_dir={tmp_path / "clean"}'])
    clean = Trainer(cfg, images=load_images('fashion_mnist', 'train')[0])
    for _ in range(k): clean.train_step()
    ref = clean.state_dict()
    for part in ('model', 'ema'):
        for n, t in ref[part].items(): assert torch.equal(t, ck[part][n]), (part, n)
    for i, st in ref['opt']['state'].items():
        assert st['step'] == ck['opt']['state'][i]['step'] and torch.equal(st['exp_avg'], ck['opt']['state'][i]['exp_avg'])
    assert ck['data']['pos'] == ref['data']['pos'] and torch.equal(ck['noise_gen'], ref['noise_gen'])
    # resumed from that checkpoint, 10 more steps equal the clean trainer's next 10
    resumed = Trainer.resume(out, images=load_images('fashion_mnist', 'train')[0])
    for _ in range(10): clean.train_step(); resumed.train_step()
    for n, t in clean.state_dict()['model'].items(): assert torch.equal(t, resumed.state_dict()['model'][n]), n

@needs_fmnist
def test_ctrl_c_works_when_sigint_was_ignored(tmp_path):
    "A run launched with SIGINT ignored (as `nohup … &` does) still stops on Ctrl-C, with a checkpoint."
    rc, err = _interrupt(tmp_path / 'nohup', signal.SIGINT, preexec=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert rc == 130 and 'SIGINT: stopped after step' in err, err[-2000:]
    assert len(list((tmp_path / 'nohup' / 'checkpoints').glob('ckpt-*.pt'))) == 1

@needs_fmnist
def test_second_run_into_a_live_run_folder_is_refused(tmp_path):
    out = tmp_path / 'shared'
    p = subprocess.Popen([*MSDSM, 'train', *TINY, 'iterations=100000', 'ckpt_every=100000', f'out_dir={out}'],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, 'MSDSM_OFFLINE': '1'})
    try:
        t0 = time.time()
        while not (out / 'run.lock').exists() and time.time() - t0 < 120: time.sleep(0.05)
        second = run(*MSDSM, 'train', *TINY, 'iterations=5', f'out_dir={out}', check=False)
        assert second.returncode == 2 and f'is in use by another run (pid {p.pid}' in second.stderr, second.stderr
        resumed = run(*MSDSM, 'train', '--resume', out, check=False)       # nor can it be resumed while it runs
        assert resumed.returncode == 2, resumed.stderr
    finally:
        p.send_signal(signal.SIGTERM); p.wait(timeout=120)
    assert not (out / 'run.lock').exists()

def test_out_of_memory_message(monkeypatch, tmp_path):
    from msdsm import train
    imgs = torch.randint(0, 256, (64, 1, 32, 32), dtype=torch.uint8)
    t = train.Trainer(train.make_config('fmnist-paper', overrides=['width=8', 'batch_size=32', 'device=cpu', 'progress=false',
                                                                   'sample_every=0', f'out_dir={tmp_path}']), images=imgs)
    def oom(): raise torch.cuda.OutOfMemoryError('CUDA out of memory. Tried to allocate 2.00 GiB')
    monkeypatch.setattr(t, 'train_step', oom)
    with pytest.raises(RuntimeError, match='batch_size=16'): t.fit()

def _tiny_run(out, iterations=2, **kw):
    from msdsm.train import Trainer, make_config
    imgs = torch.randint(0, 256, (64, 1, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    ov = ['width=8', 'batch_size=8', 'device=cpu', 'progress=false', f'iterations={iterations}', 'ckpt_every=2',
          'sample_every=0', f'out_dir={out}'] + [f'{k}={v}' for k, v in kw.items()]
    return Trainer(make_config('fmnist-paper', overrides=ov), images=imgs), imgs

@pytest.mark.parametrize('link', ['hard', 'sym', 'symdir'])
def test_a_run_folder_linked_to_another_run_is_refused(tmp_path, link):
    "A folder copied with cp -al / cp -s shares files with the original: resuming the copy must not change it."
    from msdsm.train import Trainer, RunFolderError
    a, b = tmp_path / 'a', tmp_path / 'b'
    t, imgs = _tiny_run(a); t.fit(); t.sample_grid()
    b.mkdir(); (b / 'checkpoints').mkdir()
    for p in (a / 'checkpoints').iterdir(): os.link(p, b / 'checkpoints' / p.name)
    (b / 'config.yaml').write_bytes((a / 'config.yaml').read_bytes())
    if link == 'symdir': (b / 'log.jsonl').write_bytes((a / 'log.jsonl').read_bytes()); (b / 'samples').symlink_to(a / 'samples')
    else: os.link(a / 'log.jsonl', b / 'log.jsonl') if link == 'hard' else (b / 'log.jsonl').symlink_to(a / 'log.jsonl')
    before = {p: p.read_bytes() for p in a.rglob('*') if p.is_file()}
    with pytest.raises(RunFolderError, match='link to a file or folder elsewhere'):
        Trainer.resume(b, overrides=['iterations=4'], images=imgs).fit()
    assert {p: p.read_bytes() for p in a.rglob('*') if p.is_file()} == before

def test_a_run_that_moved_on_while_another_resume_was_loading_is_refused(tmp_path):
    "Two resumes of one run: the one that read its checkpoint before the other trained must not continue stale state."
    from msdsm.train import Trainer, RunFolderError
    t, imgs = _tiny_run(tmp_path); t.fit()
    slow = Trainer.resume(tmp_path, overrides=['iterations=3'], images=imgs)     # has read ckpt-2, not yet locked
    Trainer.resume(tmp_path, overrides=['iterations=6'], images=imgs).fit()
    model = (tmp_path / 'energy' / 'energy.json').read_bytes()
    with pytest.raises(RunFolderError, match='changed while this run was loading'): slow.fit()
    assert (tmp_path / 'energy' / 'energy.json').read_bytes() == model and 'iterations: 6' in (tmp_path / 'config.yaml').read_text()
