"""Bad input, table-driven: each case is one `msdsm` command (its own process) that must end with exit status 2 (1 for a run that
failed), one line on stderr naming what was wrong, no traceback — and must leave what was there untouched."""
import gzip, hashlib, json, os, pickle, shutil, struct, zlib
from pathlib import Path
import numpy as np
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
    # data files that would run code, or are damaged
    cifar = tmp / 'cifar' / 'cifar-10-batches-py'; cifar.mkdir(parents=True)
    for n in [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']:
        with open(cifar / n, 'wb') as f: pickle.dump({'data': _Exploit(), 'labels': [0]}, f)
    (tmp / 'empty_dir').mkdir()
    idx = {}
    for name, data in [('dtype', bytes([0, 0, 0x42, 3, 0, 0, 0, 1, 0, 0, 0, 28, 0, 0, 0, 28]) + bytes(784)),
                       ('header', bytes([0, 0, 8, 3, 0, 0, 0])), ('gz', None)]:
        d = tmp / f'idx_{name}'; d.mkdir(); idx[name] = d
        labels = bytes([0, 0, 8, 1]) + struct.pack('>I', 1) + bytes(1)
        gzip.open(d / 'train-labels-idx1-ubyte.gz', 'wb').write(labels)
        img = data if data is not None else bytes([0, 0, 8, 3]) + struct.pack('>III', 1, 28, 28) + bytes(784)
        raw = gzip.compress(img)
        (d / 'train-images-idx3-ubyte.gz').write_bytes(raw[:len(raw) // 2] if data is None else gzip.compress(img))
    other = tmp / 'other_fmnist'; other.mkdir()                       # valid IDX files, other images
    gzip.open(other / 'train-images-idx3-ubyte.gz', 'wb').write(bytes([0, 0, 8, 3]) + struct.pack('>III', 64, 28, 28)
                                                             + np.random.default_rng(0).integers(0, 256, 64 * 784, dtype=np.uint8).tobytes())
    gzip.open(other / 'train-labels-idx1-ubyte.gz', 'wb').write(bytes([0, 0, 8, 1]) + struct.pack('>I', 64) + bytes(64))
    # model folders with a damaged energy.json or damaged weights
    def model_copy(name, edit=None, meta=None):
        d = tmp / name; shutil.copytree(MODEL, d)
        if meta is not None: (d / 'energy.json').write_text(meta)
        elif edit is not None:
            m = json.loads((d / 'energy.json').read_text()); edit(m); (d / 'energy.json').write_text(json.dumps(m))
        return d
    extra_key = model_copy('extra_key', lambda m: m['model'].update(depth=3))
    listed = model_copy('listed', meta='[1, 2]')
    badjson = model_copy('badjson', meta='{"model": ')
    strfiles = model_copy('strfiles', lambda m: m.update(files='energy-00001-of-00002.safetensors'))
    escape = model_copy('escape', lambda m: m.update(files=['../../x.safetensors']))
    i32 = tmp / 'i32'; i32.mkdir()
    from safetensors.torch import save_file
    from msdsm.energy import res12
    net = res12(1, 8); save_file({k: v.to(torch.int32) for k, v in net.state_dict().items()}, str(i32 / 'energy.safetensors'))
    (i32 / 'energy.json').write_text(json.dumps(dict(model=net.config, files=['energy.safetensors'])))
    # configs and sample files of the wrong shape
    (tmp / 'list.yaml').write_text('- lr: 1\n'); (tmp / 'scalar.yaml').write_text('42\n')
    (tmp / 'deep.yaml').write_text('[' * 10 ** 5)
    (tmp / 'numdir.yaml').write_text(f'out_dir: 1.50\n')
    photos = tmp / 'photos'; (photos / 'samples').mkdir(parents=True); (photos / 'samples' / 'IMG_0001.jpg').write_bytes(b'photo')
    (photos / 'log.jsonl').write_text('{"step": 1}\n')                       # looks like a run, holds a photo
    notes = tmp / 'notes'; notes.mkdir(); (notes / 'log.jsonl').write_text('{"epoch": 1}\n')   # someone else's log
    named = tmp / 'named'; (named / 'checkpoints').mkdir(parents=True)            # msdsm's names, someone's content
    (named / 'checkpoints' / 'ckpt-00000001.pt').write_text('my thesis checkpoint')
    (named / 'log.jsonl').write_text('{"step": 0, "loss": 1, "lr": 1, "time": 0}\n')      # a log like msdsm's
    typed = tmp / 'typed'; (typed / 'log.jsonl').mkdir(parents=True); (typed / 'log.jsonl' / 'notes.txt').write_text('notes')
    (tmp / 'octal.yaml').write_text('seed: 017\n'); (tmp / 'base60.yaml').write_text('iterations: 1:30\n')
    torch.save({'samples': [1, 2, 3]}, tmp / 'list.pt'); torch.save(torch.zeros(0, 1, 32, 32), tmp / 'empty.pt')
    bomb = tmp / 'bomb'; bomb.mkdir()
    def chunk(kind, data): return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
    (bomb / 'big.png').write_bytes(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 20000, 20000, 8, 0, 0, 0, 0))
                                   + chunk(b'IDAT', zlib.compress(bytes(200))) + chunk(b'IEND', b''))
    newest = sorted((done / 'checkpoints').glob('*.pt'))[-1]
    shutil.copy(newest, tmp / 'model.pth')                            # a checkpoint under another name
    exp = tmp / 'exp'; exp.mkdir(); (exp / 'config.yaml').write_text(f'iterations: 2\nout_dir: {exp}\n')
    (tmp / 'numkey.yaml').write_text('1: 2\n')
    linked = tmp / 'linked'; shutil.copytree(done, linked); (linked / 'run.lock').symlink_to(tmp / 'lock-target')
    ck = torch.load(newest, weights_only=True); del ck['opt']; torch.save(ck, tmp / 'damaged.pt')
    outside = model_copy('outside'); shard = sorted(outside.glob('energy-*.safetensors'))[-1]
    shutil.move(shard, tmp / shard.name); shard.symlink_to(tmp / shard.name)
    idx_f = tmp / 'idx_float'; idx_f.mkdir()
    gzip.open(idx_f / 'train-images-idx3-ubyte.gz', 'wb').write(bytes([0, 0, 0x0D, 3]) + struct.pack('>III', 1, 28, 28) + bytes(4 * 784))
    gzip.open(idx_f / 'train-labels-idx1-ubyte.gz', 'wb').write(bytes([0, 0, 8, 1]) + struct.pack('>I', 1) + bytes(1))
    withmodel = tmp / 'withmodel'; shutil.copytree(MODEL, withmodel / 'energy')       # a model, no run
    hl = tmp / 'hl'; hl.mkdir(); (tmp / 'precious.txt').write_text('precious'); os.link(tmp / 'precious.txt', hl / 'run.lock')
    rep = tmp / 'rep'; (rep / 'reports').mkdir(parents=True); (rep / 'reports' / 'README.md').write_text('MY NOTES')
    (rep / 'mine').mkdir(); (rep / 'mine' / 'data_overview.ipynb').write_text('{}')
    (tmp / 'c').mkdir(); torch.save(torch.nn.Linear(2, 2).state_dict(), tmp / 'c' / 'weights.pt')
    shutil.copy(newest, tmp / 'c' / 'backup.png')
    (tmp / 'nolog').mkdir(); (tmp / 'nolog' / 'log.jsonl').write_text('{"step": 1, "loss": 1.0}\n')
    (tmp / 'nanlog').mkdir(); (tmp / 'nanlog' / 'log.jsonl').write_text('{"step": 1, "loss": NaN, "e_data": 1, "e_noise": 2}\n')
    (tmp / 'ulock').mkdir(); (tmp / 'ulock' / 'run.lock').write_text('important notes')
    linked_energy = tmp / 'linked_energy'; shutil.copytree(done, linked_energy); shutil.rmtree(linked_energy / 'energy')
    (linked_energy / 'energy').symlink_to(tmp / 'withmodel' / 'energy')          # another model's folder
    def run_copy(name):                         # a finished run to plant someone's file in
        shutil.copytree(done, tmp / name); return tmp / name
    fck = run_copy('fck'); torch.save({'model': {'w': torch.randn(3, 3)}, 'epoch': 7}, fck / 'checkpoints' / 'ckpt-00001000.pt')
    flog = run_copy('flog'); (flog / 'log.jsonl').open('a').write('{"user": "important lines"}\n')
    fnotes = run_copy('fnotes'); (fnotes / 'energy' / 'energy_notes.json').write_text('my notes')
    fshard = run_copy('fshard'); (fshard / 'energy' / 'energy-00001-of-00002.safetensors').write_bytes(os.urandom(100))
    fifo = run_copy('fifo'); os.mkfifo(fifo / 'checkpoints' / 'ckpt-00000009.pt')
    fcfg = tmp / 'fcfg'; fcfg.mkdir(); (fcfg / 'config.yaml').write_text('# my project settings\ndb: prod\n')
    rmd = tmp / 'rmd'; (rmd / 'results' / 'tiny').mkdir(parents=True); (rmd / 'results' / 'tiny' / 'cifar10_table.md').write_text('my table')
    rled = tmp / 'rled'; (rled / 'reports').mkdir(parents=True); (rled / 'reports' / 'ledger.json').write_text('{"budget": {"2024": 1200}}')
    rnb = tmp / 'rnb'; rnb.mkdir()
    rq = tmp / 'rq'; (rq / 'reports').mkdir(parents=True)
    (rq / 'reports' / 'README.md').write_text('# My notes\n\nmsdsm pages open with `<!-- generated by msdsm reproduce`.\n')
    (tmp / 'gen.pth').write_bytes(b'a generator model')
    rshard = run_copy('rshard'); (rshard / 'energy' / 'energy-00001-of-00002.safetensors').write_bytes(os.urandom(100))
    rcfg = run_copy('rcfg'); (rcfg / 'config.yaml').write_text('# my project settings\ndb: prod\n')
    rled2 = tmp / 'rled2'; (rled2 / 'reports').mkdir(parents=True)
    (rled2 / 'reports' / 'ledger.json').write_text('{"tiny": {"cifar10_table": {"status": "ok"}}}')     # no seconds
    rled3 = tmp / 'rled3'; (rled3 / 'reports').mkdir(parents=True)
    (rled3 / 'reports' / 'ledger.json').write_text('{"other": {"x": {"status": "ok", "seconds": 1, "reasons": [1, null]}}}')
    rfig = tmp / 'rfig'; (rfig / 'results' / 'tiny').mkdir(parents=True); (rfig / 'figures' / 'tiny').mkdir(parents=True)
    (rfig / 'results' / 'tiny' / 'cifar10_table.json').write_text('{"provenance": {"machine": "m", "torch": "t", "commit": "c"}}')
    (rfig / 'figures' / 'tiny' / 'cifar10_table.png').write_bytes(b'my own figure')
    rother = tmp / 'rother'; rother.mkdir()            # the executed copy of a run into another output folder
    pm = dict(input_path=str(ROOT / 'nbs' / 'experiments' / 'cifar10_table.ipynb'), parameters=dict(profile='tiny', out_dir=str(tmp / 'elsewhere')))
    (rother / 'cifar10_table.ipynb').write_text(json.dumps(dict(cells=[], metadata=dict(papermill=pm))))
    (rnb / 'cifar10_table.ipynb').write_text(json.dumps(dict(cells=[], metadata=dict(papermill=dict(input_path='mine.ipynb', parameters={})))))
    pl = run_copy('pl'); (pl / 'curves.png').write_text('my own curves from tensorboard')
    refused = 'removes only what msdsm train wrote'
    fpdf = run_copy('fpdf'); (fpdf / 'samples').mkdir(); (fpdf / 'samples' / 'step-1.pdf').write_bytes(b'%PDF-1.4 my thesis')
    fpng = run_copy('fpng'); (fpng / 'samples').mkdir()
    from PIL import Image; Image.new('L', (8, 8)).save(fpng / 'samples' / 'step-00000002.png')      # a photo, no record
    # FIFOs where a file belongs: reading one waits for a writer that never comes
    os.mkfifo(tmp / 'pipe'); plog = tmp / 'plog'; plog.mkdir(); os.mkfifo(plog / 'log.jsonl')
    pref = tmp / 'pref'; pref.mkdir(); (pref / 'a.png').write_bytes(b''); os.mkfifo(pref / 'b.png')
    pjson = model_copy('pjson'); (pjson / 'energy.json').unlink(); os.mkfifo(pjson / 'energy.json')
    # samples the Fashion-MNIST features would have to guess at: colour, or another size
    torch.save({'samples': torch.rand(30, 3, 32, 32)}, tmp / 'colour.pt')
    for h, w in ((16, 16), (20, 32)): torch.save({'samples': torch.rand(30, 1, h, w)}, tmp / f'size{h}x{w}.pt')
    # checkpoints of a finished run, edited: no record of its images, a learning rate as text, one off its schedule
    def edited_run(name, edit):
        r = run_copy(name); f = sorted((r / 'checkpoints').glob('*.pt'))[-1]
        c = torch.load(f, weights_only=True); edit(c); torch.save(c, f); return r
    nofp = edited_run('nofp', lambda c: c.pop('data_fingerprint'))
    strlr = edited_run('strlr', lambda c: c['opt']['param_groups'][0].update(lr='0.001'))
    biglr = edited_run('biglr', lambda c: c['opt']['param_groups'][0].update(lr=1e30))
    # a run killed inside its first checkpoint write: checkpoints/ holds only the dead writer's temp file
    import socket
    dead = tmp / 'dead'; (dead / 'checkpoints').mkdir(parents=True); (dead / 'log.jsonl').write_text('')
    (dead / 'checkpoints' / f'.ckpt-00000001.pt.msdsm-4194311.{socket.gethostname()}.tmp').write_bytes(b'PK\x03\x04half')
    # images for `msdsm restore`: one good 32×32 PNG, a 28×28 mask, an earlier result to keep
    from PIL import Image
    (tmp / 'pics').mkdir(); Image.fromarray(np.zeros((32, 32), np.uint8)).save(tmp / 'pics' / 'a.png')
    Image.fromarray(np.full((28, 28), 255, np.uint8)).save(tmp / 'mask28.png')
    kept = tmp / 'kept'; kept.mkdir(); (kept / 'restored.png').write_bytes(b'an earlier restoration')
    photo = tmp / 'pics' / 'a.png'
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp / 'small.png')
    # a well-formed outlier detector, fitted on other weights than MODEL's
    from msdsm.ood import fit_detector, save_detector
    class Other(torch.nn.Module):
        def __init__(self): super().__init__(); self.p = torch.nn.Parameter(torch.ones(()))
        def forward(self, x): return self.p * x.flatten(1).pow(2).sum(1)
    save_detector(fit_detector(Other(), torch.rand(200, 1, 32, 32), sigmas=(0.1,), progress=False), tmp / 'other.json')
    ood = ['ood', 'score', MODEL]; (tmp / 'detlist.json').write_text('[1, 2]')
    dang = tmp / 'dangling'; dang.mkdir()                             # output names that are links to nothing
    for name in ('s.png', 'm.json', 'c.png', 'r'): (dang / name).symlink_to(tmp / 'nowhere' / name)
    rdang = tmp / 'rdang'; rdang.mkdir(); (rdang / 'restored.pt').symlink_to(tmp / 'nowhere' / 'restored.pt')
    return [
        ('ood score: detector of another model', [*ood, tmp / 'other.json', photo], 'fitted on another model', 2, [tmp / 'other.json']),
        ('ood score: detector not JSON', [*ood, tmp / 'afile', photo], 'not an outlier detector (not JSON', 2, []),
        ('ood score: detector a folder', [*ood, tmp / 'pics', photo], "is a folder: give the detector's .json file", 2, []),
        ('ood score: detector missing', [*ood, tmp / 'nodet.json', photo], 'does not exist: fit a detector', 2, []),
        ('ood score: fpr out of range', [*ood, tmp / 'other.json', photo, '--fpr', '1.5'], '--fpr must be less than 1', 2, []),
        ('ood score: --csv exists', [*ood, tmp / 'other.json', photo, '--csv', tmp / 'exists.png'], 'already exists', 2, [tmp / 'exists.png']),
        ('ood fit: --out exists', ['ood', 'fit', MODEL, '--in', photo, '--out', tmp / 'exists.png'], 'already exists', 2, [tmp / 'exists.png']),
        ('ood fit: --out in checkpoints', ['ood', 'fit', MODEL, '--in', photo, '--out', done / 'checkpoints' / 'd.json'], "lies in a run's checkpoints", 2, [done]),
        ('ood fit: unknown split', ['ood', 'fit', MODEL, '--in', 'fashion_mnist:valid', '--out', tmp / 'd.json'], "not 'valid'", 2, []),
        ('ood fit: too few images', ['ood', 'fit', MODEL, '--in', tmp / 'small.png', '--out', tmp / 'd.json'], 'ood fit: error: too few images (1)', 2, []),
        ('bench --levers with --quick', ['bench', '--levers', '--quick'], 'drop --quick', 2, []),
        ('ood score: detector is a JSON list', [*ood, tmp / 'detlist.json', photo], 'it holds a JSON list', 2, []),
        ('bench: --json under a file', ['bench', '--quick', '--json', tmp / 'afile' / 'x.json'], 'is a file, not a folder', 2, [tmp / 'afile']),
        ('ood fit: calibrate 1', ['ood', 'fit', MODEL, '--in', photo, '--calibrate', '1', '--out', tmp / 'd.json'], '--calibrate must be less than 1', 2, []),
        ('ood fit: not an image', ['ood', 'fit', MODEL, '--in', tmp / 'imgs', '--out', tmp / 'd.json'], 'not a readable image', 2, []),
        ('restore: not an image', ['restore', MODEL, tmp / 'imgs' / 'x.png', '--task', 'inpaint', '--out', tmp / 'r1'], 'not a readable image', 2, [tmp / 'imgs']),
        ('restore: folder without images', ['restore', MODEL, tmp / 'empty_dir', '--task', 'inpaint', '--out', tmp / 'r1'], 'holds no .png', 2, []),
        ('restore: mask of the wrong size', ['restore', MODEL, photo, '--task', 'inpaint', '--mask', tmp / 'mask28.png', '--out', tmp / 'r1'], 'is 28×28 pixels; the images are 32×32', 2, []),
        ('restore: mask spec', ['restore', MODEL, photo, '--task', 'inpaint', '--mask', 'random:1.5', '--out', tmp / 'r1'], 'random:P with 0 < P < 1', 2, []),
        ('restore: negative sigma_y', ['restore', MODEL, photo, '--task', 'denoise', '--sigma-y', '-0.1', '--out', tmp / 'r1'], '--sigma-y must be at least 0', 2, []),
        ('restore: exact deblurring', ['restore', MODEL, photo, '--task', 'deblur', '--sigma-y', '0', '--out', tmp / 'r1'], "needs the measurement's noise level", 2, []),
        ('restore: factor not dividing', ['restore', MODEL, photo, '--task', 'superres', '--factor', '3', '--out', tmp / 'r1'], 'does not divide', 2, []),
        ('restore: option of another task', ['restore', MODEL, photo, '--task', 'denoise', '--factor', '2', '--out', tmp / 'r1'], 'option of --task superres', 2, []),
        ('restore: unwritable --out', ['restore', MODEL, photo, '--task', 'inpaint', '--out', '/sys/msdsm-restored'], 'cannot write the restorations in /sys', 2, []),
        ('restore: --out under a file', ['restore', MODEL, photo, '--task', 'inpaint', '--out', tmp / 'afile' / 'r'], 'is a file, not a folder', 2, [tmp / 'afile']),
        ('restore: earlier results kept', ['restore', MODEL, photo, '--task', 'inpaint', '--out', kept], 'already exist', 2, [kept]),
        ('restore: --out a model folder', ['restore', MODEL, photo, '--task', 'inpaint', '--out', MODEL, '--force'], "a model's or a training run's folder", 2, [MODEL]),
        ('restore: --out a run folder', ['restore', MODEL, photo, '--task', 'inpaint', '--out', done, '--force'], "a model's or a training run's folder", 2, [done]),
        ('restore: --degrade with --reference', ['restore', MODEL, photo, '--task', 'denoise', '--degrade', '--reference', photo, '--out', tmp / 'r1'], 'give one or the other', 2, []),
        ('restore: reference of another size', ['restore', MODEL, photo, '--task', 'denoise', '--reference', tmp / 'small.png', '--out', tmp / 'r1'], 'is 16×16, but its measurement', 2, []),
        ('restore: superres of full-size images', ['restore', MODEL, photo, '--task', 'superres', '--out', tmp / 'r1'], 'pass --degrade', 2, []),
        ('restore: superres reference size', ['restore', MODEL, tmp / 'small.png', '--task', 'superres', '--reference', tmp / 'small.png', '--out', tmp / 'r1'], '(×2: 32×32 expected)', 2, []),
        ('restore: empty --mask', ['restore', MODEL, photo, '--task', 'inpaint', '--mask=', '--out', tmp / 'r1'], '--mask is empty', 2, []),
        ('restore: folder as --mask', ['restore', MODEL, photo, '--task', 'inpaint', '--mask', tmp / 'pics', '--out', tmp / 'r1'], 'is a folder: give one mask image', 2, []),
        ('restore: too few steps', ['restore', MODEL, photo, '--task', 'inpaint', '--steps', '3', '--out', tmp / 'r1'], '--steps must be at least 5', 2, []),
        ('restore: references do not match', ['restore', MODEL, photo, '--task', 'inpaint', '--reference', photo, photo, '--out', tmp / 'r1'], '2 images for 1 measurements', 2, []),
        ('train: folder that does not exist', ['train', *TINY, f'dataset=folder:{tmp}/nowhere', f'out_dir={tmp}/ft'], 'is not a folder of images', 2, []),
        ('train: folder that is a file', ['train', *TINY, f'dataset=folder:{tmp}/afile', f'out_dir={tmp}/ft'], 'is not a folder of images', 2, []),
        ('train: folder with no images', ['train', *TINY, f'dataset=folder:{tmp}/empty_dir', f'out_dir={tmp}/ft'], 'holds no .png/.jpg/.jpeg images', 2, []),
        ('train: folder with a non-image', ['train', *TINY, 'batch_size=1', f'dataset=folder:{tmp}/imgs', f'out_dir={tmp}/ft'], 'is not a readable image', 2, [tmp / 'imgs']),
        ('train: folder as 2 channels', ['train', *TINY, f'dataset=folder:{tmp}/pics', 'channels=2', f'out_dir={tmp}/ft'], 'a folder is read as 1 or 3', 2, []),
        ('train: folder with a test split', ['train', *TINY, f'dataset=folder:{tmp}/pics', 'split=test', f'out_dir={tmp}/ft'], 'a folder has no splits', 2, []),
        ('train: folder fit unknown', ['train', *TINY, f'dataset=folder:{tmp}/pics', 'fit=stretch', f'out_dir={tmp}/ft'], 'choose one of crop, resize', 2, []),
        ('train: folder of fewer images than a batch', ['train', *TINY, f'dataset=folder:{tmp}/pics', f'out_dir={tmp}/ft'], 'exceeds the 1 image of folder:', 2, []),
        ('--data-dir that is a file', ['train', *TINY, '--data-dir', tmp / 'afile', f'out_dir={tmp}/df'], 'is a file, not a folder', 2, []),
        ('a new run where one died before its first checkpoint', ['train', *TINY, 'iterations=2', f'out_dir={dead}'], 'stopped before its first checkpoint', 2, [dead]),
        ('resume of a run that died before its first checkpoint', ['train', '--resume', dead], 'start it again, with --overwrite', 2, [dead]),
        ('--overwrite of a torch checkpoint not in msdsm\'s format', ['train', *TINY, 'iterations=2', f'out_dir={fck}', '--overwrite'], refused, 2, [fck]),
        ('--overwrite of a log with a line of someone\'s', ['train', *TINY, 'iterations=2', f'out_dir={flog}', '--overwrite'], refused, 2, [flog]),
        ('--overwrite of notes in energy/', ['train', *TINY, 'iterations=2', f'out_dir={fnotes}', '--overwrite'], refused, 2, [fnotes]),
        ('--overwrite of a weights file the index does not name', ['train', *TINY, 'iterations=2', f'out_dir={fshard}', '--overwrite'], refused, 2, [fshard]),
        ('--overwrite of a FIFO named like a checkpoint', ['train', *TINY, 'iterations=2', f'out_dir={fifo}', '--overwrite'], refused, 2, [fifo]),
        ('--overwrite of a config.yaml msdsm did not write', ['train', *TINY, 'iterations=2', f'out_dir={fcfg}', '--overwrite'], 'was not written by msdsm train', 2, [fcfg]),
        ('reproduce over a results file it did not write', ['reproduce', '--profile', 'tiny', '--only', 'cifar10_table', '--out-dir', rmd], 'was not written by msdsm reproduce', 2, [rmd]),
        ('reproduce over a ledger it did not write', ['reproduce', '--profile', 'tiny', '--only', 'cifar10_table', '--out-dir', rled], "is not msdsm's ledger", 2, [rled]),
        ('resume beside a weights file the index does not name', ['train', '--resume', rshard, 'iterations=11'], 'is not that', 2, [rshard]),
        ('resume beside a config.yaml msdsm did not write', ['train', '--resume', rcfg, 'iterations=11'], 'was not written by msdsm train', 2, [rcfg]),
        ('reproduce over a ledger row without its fields', ['reproduce', '--profile', 'tiny', '--only', 'cifar10_table', '--out-dir', rled2], "is not msdsm's ledger", 2, [rled2]),
        ('reproduce over a ledger row whose reasons are not text', ['reproduce', '--profile', 'tiny', '--only', 'cifar10_table', '--out-dir', rled3], "is not msdsm's ledger", 2, [rled3]),
        ('reproduce over a figure it did not draw', ['reproduce', '--profile', 'tiny', '--only', 'cifar10_table', '--out-dir', rfig], 'cifar10_table.png exists and was not written', 2, [rfig]),
        ('reproduce over the record of a run elsewhere', ['reproduce', '--profile', 'tiny', '--only', 'cifar10_table', '--out-dir', tmp / 'rotho', '--runs-dir', rother], 'into another --out-dir', 2, [rother]),
        ('reproduce over another papermill notebook', ['reproduce', '--profile', 'tiny', '--only', 'cifar10_table', '--out-dir', tmp / 'rnbo', '--runs-dir', rnb], 'not an executed copy', 2, [rnb]),
        ('--overwrite of a PDF named like a sample grid', ['train', *TINY, 'iterations=2', f'out_dir={fpdf}', '--overwrite'], refused, 2, [fpdf]),
        ('--overwrite of an image named like a sample grid', ['train', *TINY, 'iterations=2', f'out_dir={fpng}', '--overwrite'], refused, 2, [fpng]),
        ('plot over a curves.png msdsm did not draw', ['plot', pl], '--force', 2, [pl / 'curves.png']),
        ('export into a linked model folder'
, ['train', '--resume', linked_energy, 'iterations=11'], 'link to a file or folder elsewhere', 2, [withmodel]),
        ("someone's file named run.lock", ['train', *TINY, 'iterations=2', f'out_dir={tmp}/ulock'], "is not msdsm's lock", 2, [tmp / 'ulock']),
        ('new run over an exported model', ['train', *TINY, 'iterations=2', f'out_dir={withmodel}'], 'already holds another run', 2, [withmodel]),
        ('run.lock hard-linked to a file', ['train', *TINY, 'iterations=2', f'out_dir={hl}'], 'not a plain file of its own', 2, [tmp / 'precious.txt']),
        ('reproduce into the source notebooks', ['reproduce', '--profile', 'tiny', '--only', 'data_overview', '--out-dir', tmp / 'rep2', '--runs-dir', ROOT / 'nbs' / 'experiments'], 'inside the source notebooks', 2, [ROOT / 'nbs' / 'experiments']),
        ('reproduce over a README it did not write', ['reproduce', '--profile', 'tiny', '--only', 'data_overview', '--out-dir', rep], 'was not written by msdsm reproduce', 2, [rep]),
        ('reproduce over a notebook it did not write', ['reproduce', '--profile', 'tiny', '--only', 'data_overview', '--out-dir', tmp / 'rep3', '--runs-dir', rep / 'mine'], 'not an executed copy', 2, [rep]),
        ('reproduce --only with no names', ['reproduce', '--only'], 'names no experiment', 2, []),
        ('evaluate --weights at an energy model', ['evaluate', tmp / 'pm1.pt', '--rescale', 'signed', '--metrics', 'isc', '--weights', MODEL / 'energy-00001-of-00002.safetensors'], "is not the Fashion-MNIST feature classifier's weights", 2, []),
        ('a torch-fidelity reference that is a model file', ['evaluate', tmp / 'pm1.pt', '--rescale', 'signed', '--metrics', 'fid', '--reference', f'torch-fidelity:{tmp / "gen.pth"}'], 'which runs code they carry', 2, []),
        ('reproduce over a README that quotes the mark', ['reproduce', '--profile', 'tiny', '--only', 'cifar10_table', '--out-dir', rq], 'was not written by msdsm reproduce', 2, [rq]),
        ('evaluate --weights at a text file', ['evaluate', tmp / 'pm1.pt', '--rescale', 'signed', '--metrics', 'isc', '--weights', MODEL / 'MODEL_CARD.md'], "is not the Fashion-MNIST feature classifier's weights", 2, []),
        ('reproduce on a device torch does not know', ['reproduce', '--profile', 'tiny', '--only', 'data_overview', '--out-dir', tmp / 'rdev', '--device', 'nonsense'], 'is not a torch device', 2, [tmp / 'rdev']),
        ('sample --out a link to nothing', ['sample', MODEL, '--n', '2', '--steps', '5', '--quiet', '--out', dang / 's.png'], 'already exist', 2, [dang]),
        ('evaluate --json a link to nothing', ['evaluate', tmp / 'pm1.pt', '--rescale', 'signed', '--metrics', 'isc', '--json', dang / 'm.json'], 'a link to', 2, [dang]),
        ('plot --out a link to nothing', ['plot', done, '--out', dang / 'c.png'], 'a link to', 2, [dang]),
        ('restore --out a link to nothing', ['restore', MODEL, photo, '--task', 'inpaint', '--out', dang / 'r'], 'is a link to nothing', 2, [dang]),
        ('restore output a link to nothing', ['restore', MODEL, photo, '--task', 'inpaint', '--out', rdang], 'already exist', 2, [rdang]),
        ('samples over a bare state dict', ['sample', MODEL, '--n', '1', '--out', tmp / 'c' / 'weights.png', '--force'], 'is a training checkpoint or model', 2, [tmp / 'c']),
        ('grid over a checkpoint named .png', ['sample', MODEL, '--n', '1', '--out', tmp / 'c' / 'backup.png', '--force'], 'is a training checkpoint or model', 2, [tmp / 'c']),
        ('features built from torch.hub code', ['evaluate', tmp / 'pm1.pt', '--rescale', 'signed', '--metrics', 'isc', '--features', 'dinov2-vit-s-14'], 'which msdsm does not run', 2, []),
        ('resume to fewer iterations than done', ['train', '--resume', done, 'iterations=3'], 'is below the step', 2, [done]),
        ('a run inside a run\'s checkpoints', ['train', *TINY, 'iterations=2', f'out_dir={done}/checkpoints'], 'needs a folder of its own', 2, [done]),
        ('plot records without energies', ['plot', tmp / 'nolog'], 'has no training records', 2, []),
        ('plot a diverged log', ['plot', tmp / 'nanlog'], 'no finite loss', 2, []),
        ('non-integer batch size', ['train', *TINY, 'batch_size=abc', f'out_dir={tmp}/r1'], "batch_size='abc': expected an integer", 2, []),
        ('out_dir is a file', ['train', *TINY, 'iterations=2', f'out_dir={tmp}/afile'], 'exists and is not a folder', 2, [tmp / 'afile']),
        ('unwritable out_dir', ['train', *TINY, 'iterations=2', 'out_dir=/sys/msdsm-run'], 'cannot read or write /sys/msdsm-run', 2, []),
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
        ('CIFAR-10 batch with a payload (train)', ['train', '--data-dir', tmp / 'cifar', '--recipe', 'cifar10-paper', 'width=8', 'batch_size=8', 'device=cpu', f'out_dir={tmp}/c1'], 'asks to run posix.system', 2, []),
        ('CIFAR-10 batch with a payload (evaluate)', ['evaluate', tmp / 'pm1.pt', '--rescale', 'signed', '--reference', 'cifar10:test', '--datasets-root', tmp / 'cifar'], 'asks to run posix.system', 2, []),
        ('metrics JSON over a checkpoint', ['evaluate', tmp / 'pm1.pt', '--rescale', 'signed', '--json', newest, '--force'], 'refusing to write', 2, [newest]),
        ('metrics JSON over a file', ['evaluate', tmp / 'pm1.pt', '--rescale', 'signed', '--json', tmp / 'exists.png'], '--force', 2, [tmp / 'exists.png']),
        ('empty --data-dir', ['train', '--data-dir', tmp / 'empty_dir', *TINY, f'out_dir={tmp}/e1'], 'no other place is searched', 2, []),
        ('resume on other data', ['train', '--resume', done, '--data-dir', other], 'the images differ', 2, [done]),
        ('resume moving out_dir', ['train', '--resume', done, f'out_dir={tmp}/elsewhere'], 'out_dir cannot change', 2, [done]),
        ('IDX with an unknown type byte', ['train', '--data-dir', idx['dtype'], *TINY, f'out_dir={tmp}/i1'], 'unknown type byte', 2, []),
        ('IDX cut inside its header', ['train', '--data-dir', idx['header'], *TINY, f'out_dir={tmp}/i2'], 'truncated inside its header', 2, []),
        ('IDX .gz cut short', ['train', '--data-dir', idx['gz'], *TINY, f'out_dir={tmp}/i3'], 'not a complete gzip file', 2, []),
        ('negative lr_min', ['train', *TINY, 'lr_min=-1e-6', f'out_dir={tmp}/l1'], 'lr_min=-1e-06 is out of range', 2, []),
        ('sigma_min above sigma_max', ['train', *TINY, 'sigma_min=5', f'out_dir={tmp}/l2'], 'must not exceed sigma_max', 2, []),
        ('config YAML is a list', ['train', '--config', tmp / 'list.yaml'], 'must hold a mapping', 2, []),
        ('config YAML is a scalar', ['train', '--config', tmp / 'scalar.yaml'], 'must hold a mapping', 2, []),
        ('config YAML nested past the parser', ['train', '--config', tmp / 'deep.yaml'], 'could not read config file', 2, []),
        ('energy.json with an extra key', ['sample', extra_key, '--n', '1', '--out', f'{tmp}/s.png'], 'found [\'depth\']', 2, []),
        ('energy.json is a list', ['sample', listed, '--n', '1', '--out', f'{tmp}/s.png'], 'must hold a JSON object', 2, []),
        ('energy.json is not JSON', ['sample', badjson, '--n', '1', '--out', f'{tmp}/s.png'], 'energy.json is not valid JSON', 2, []),
        ('energy.json files is a string', ['sample', strfiles, '--n', '1', '--out', f'{tmp}/s.png'], "'files' must be a list", 2, []),
        ('energy.json files outside the folder', ['sample', escape, '--n', '1', '--out', f'{tmp}/s.png'], "'files' must be a list", 2, []),
        ('I32 weights', ['sample', i32, '--n', '1', '--out', f'{tmp}/s.png'], 'stored as torch.int32', 2, []),
        ('profile outside the output folder', ['reproduce', '--profile', '../../somewhere', '--out-dir', tmp / 'o'], 'is not a profile name', 2, []),
        ('samples are a list', ['evaluate', tmp / 'list.pt'], 'not a tensor of images', 2, []),
        ('samples are empty', ['evaluate', tmp / 'empty.pt'], 'non-empty', 2, []),
        ('20000×20000 PNG', ['evaluate', bomb], 'declares more pixels than msdsm reads', 2, []),
        ('negative bootstrap', ['evaluate', tmp / 'pm1.pt', '--bootstrap', '-5'], '--bootstrap must be at least 0', 2, []),
        ('grid of zero images', ['sample', MODEL, '--grid', '0', '--out', f'{tmp}/s.png'], '--grid must be at least 1', 2, []),
        ('negative step size', ['sample', MODEL, '--step-size', '-0.02', '--out', f'{tmp}/s.png'], '--step-size must be more than 0', 2, []),
        ('bench of an unknown kind', ['bench', '--only', 'foo'], "invalid choice: 'foo'", 2, []),
        ('bench JSON over a checkpoint', ['bench', '--quick', '--json', newest], 'only training writes', 2, [newest]),
        ('metrics JSON over a renamed checkpoint', ['evaluate', tmp / 'pm1.pt', '--rescale', 'signed', '--json', tmp / 'model.pth', '--force'], 'is a training checkpoint', 2, [tmp / 'model.pth']),
        ('samples into checkpoints/', ['sample', MODEL, '--n', '1', '--out', done / 'checkpoints' / 'ckpt-99999999.png'], 'only training writes', 2, [done]),
        ('empty --data-dir', ['train', '--data-dir', '', *TINY, f'out_dir={tmp}/e2'], '--data-dir is empty', 2, []),
        ('empty out_dir', ['train', *TINY, 'out_dir='], 'out_dir is empty', 2, []),
        ("a config.yaml msdsm did not write", ['train', '--config', exp / 'config.yaml', *TINY[2:]], 'was not written by msdsm train', 2, [exp / 'config.yaml']),
        ('--overwrite of a folder holding files msdsm did not write', ['train', *TINY, 'iterations=2', f'out_dir={photos}', '--overwrite'], 'removes only what msdsm train wrote', 2, [photos / 'samples' / 'IMG_0001.jpg', photos / 'log.jsonl']),
        ('--overwrite of a folder holding another program\'s log', ['train', *TINY, 'iterations=2', f'out_dir={notes}', '--overwrite'], 'removes only what msdsm train wrote', 2, [notes / 'log.jsonl']),
        ('--overwrite of files with msdsm names and foreign content', ['train', *TINY, 'iterations=2', f'out_dir={named}', '--overwrite'], 'removes only what msdsm train wrote', 2, [named / 'checkpoints' / 'ckpt-00000001.pt', named / 'log.jsonl']),
        ('--overwrite of a folder where the log belongs', ['train', *TINY, 'iterations=2', f'out_dir={typed}', '--overwrite'], 'removes only what msdsm train wrote', 2, [typed / 'log.jsonl' / 'notes.txt']),
        ('YAML folder name read as a number', ['train', '--config', tmp / 'numdir.yaml', *TINY[2:], 'iterations=2'], 'YAML read a number; quote it', 2, []),
        ('YAML 1.1 octal number', ['train', '--config', tmp / 'octal.yaml', *TINY[2:], f'out_dir={tmp / "oct"}', 'iterations=2'], "seed='017': expected an integer", 2, []),
        ('YAML 1.1 base-60 number', ['train', '--config', tmp / 'base60.yaml', *TINY[2:], f'out_dir={tmp / "b60"}'], "iterations='1:30': expected an integer", 2, []),
        ('--time-limit with a bare number after a unit', ['train', '--time-limit', '1h30'], 'give a duration such as', 2, []),
        ('YAML key that is a number', ['train', '--config', tmp / 'numkey.yaml'], 'Unknown config key(s): 1', 2, []),
        ('width 10**23', ['train', *TINY, 'width=' + '1' + '0' * 23, f'out_dir={tmp}/w'], 'out of range', 2, []),
        ('10**12 Langevin steps', ['sample', MODEL, '--steps', str(10 ** 12), '--out', f'{tmp}/s.png'], '--steps must be at most', 2, []),
        ('infinite sigma0', ['sample', MODEL, '--sigma0', 'inf', '--out', f'{tmp}/s.png'], 'must be a finite number', 2, []),
        ('device meta', ['sample', MODEL, '--device', 'meta', '--out', f'{tmp}/s.png'], 'runs on cpu or cuda', 2, []),
        ('bench on an unknown device', ['bench', '--device', 'foo'], 'not a torch device', 2, []),
        ('no metrics named', ['evaluate', tmp / 'pm1.pt', '--metrics'], '--metrics names none', 2, []),
        ('plot over a file', ['plot', done, '--out', tmp / 'exists.png'], '--force', 2, [tmp / 'exists.png']),
        ('run.lock is a symbolic link', ['train', '--resume', linked, 'iterations=12'], 'is a symbolic link', 2, [linked]),
        ('checkpoint missing its optimiser', ['sample', tmp / 'damaged.pt', '--out', f'{tmp}/s.png'], 'damaged msdsm checkpoint', 2, []),
        ('shard linked from outside the model', ['sample', outside, '--n', '1', '--out', f'{tmp}/s.png'], 'lies outside the model folder', 2, []),
        ('IDX of float images', ['train', '--data-dir', idx_f, *TINY, f'out_dir={tmp}/i4'], 'must be unsigned bytes', 2, []),
        ('a range that is not the samples\'', ['evaluate', tmp / 'pm1.pt', '--rescale', '255'], 'range from', 2, []),
        ('time limit that is not a duration', ['train', *TINY, '--time-limit', '10 minutes', f'out_dir={tmp}/t1'], 'give a duration such as', 2, []),
        ('time limit of zero', ['train', *TINY, '--time-limit', '0', f'out_dir={tmp}/t2'], 'must be longer than zero', 2, []),
        ('evaluate --weights at a FIFO', ['evaluate', tmp / 'pm1.pt', '--rescale', 'signed', '--metrics', 'isc', '--weights', tmp / 'pipe'], 'is a FIFO (named pipe), not a file', 2, []),
        ('plot of a run whose log is a FIFO', ['plot', plog, '--out', tmp / 'p.png'], 'is a FIFO (named pipe), not a file', 2, []),
        ('train --config at a FIFO', ['train', *TINY, '--config', tmp / 'pipe', f'out_dir={tmp}/pc'], 'is a FIFO (named pipe), not a file', 2, []),
        ('a torch-fidelity folder holding a FIFO', ['evaluate', tmp / 'pm1.pt', '--rescale', 'signed', '--metrics', 'fid', '--reference', f'torch-fidelity:{pref}'], 'is a FIFO (named pipe), not a file', 2, []),
        ('a model whose energy.json is a FIFO', ['sample', pjson, '--n', '1', '--out', f'{tmp}/s.png'], 'is a FIFO (named pipe), not a file', 2, []),
        ('colour samples, gray features', ['evaluate', tmp / 'colour.pt', '--metrics', 'isc'], 'are colour images', 2, []),
        ('16×16 samples, 32×32 features', ['evaluate', tmp / 'size16x16.pt', '--metrics', 'isc'], 'are 16×16', 2, []),
        ('20×32 samples, 32×32 features', ['evaluate', tmp / 'size20x32.pt', '--metrics', 'isc'], 'are 20×32', 2, []),
        ('resume from a checkpoint without its data\'s fingerprint', ['train', '--resume', nofp, 'iterations=11'], 'damaged fields (data_fingerprint)', 2, [nofp]),
        ('resume from a checkpoint whose lr is text', ['train', '--resume', strlr, 'iterations=11'], 'lr is a str where a number belongs', 2, [strlr]),
        ('resume from a checkpoint whose lr is off its schedule', ['train', '--resume', biglr, 'iterations=11'], 'is not the', 2, [biglr]),
        ('sample with a huge noise level', ['sample', MODEL, '--n', '2', '--steps', '5', '--sigma0', '1e300', '--out', f'{tmp}/s.png'], '--sigma0 must be at most 1', 2, []),
        ('sample with a huge step size', ['sample', MODEL, '--n', '2', '--steps', '5', '--step-size', '1e300', '--out', f'{tmp}/s.png'], '--step-size must be at most 1', 2, []),
        ('evaluate --weights that do not exist', ['evaluate', tmp / 'pm1.pt', '--rescale', 'signed', '--weights', tmp / 'no-such-file'], 'no such file', 2, []),
        ('bench sizes without --breakdown', ['bench', '--device', 'cpu', '--width', '8'], '--width sets the size of --breakdown: add --breakdown, or drop it', 2, []),
        ('bench two sizes without --breakdown', ['bench', '--device', 'cpu', '--width', '8', '--steps', '2'], '--width and --steps set the size', 2, []),
        ('bench --repeat without --levers', ['bench', '--device', 'cpu', '--repeat', '3'], '--repeat is an option of --levers: add --levers, or drop it', 2, []),
        ('bench --breakdown with a batch of zero', ['bench', '--breakdown', '--device', 'cpu', '--batch', '8', '0'], '--batch must be at least 1', 2, []),
        ('bench --breakdown with --only', ['bench', '--breakdown', '--device', 'cpu', '--only', 'train'], '--only chooses the cases of the reference comparison, which --breakdown does not run', 2, []),
        ('diverging run, no checkpoint yet', ['train', *TINY, 'lr=1e10', 'iterations=40', f'out_dir={tmp}/nan'], 'nothing to resume', 1, []),
    ]


# Importing torch costs each command ≈ 2.5 s of CPU, most of this table's time. The cases therefore run as processes
# forked from one interpreter that has imported msdsm (and torch) but run no torch operation yet, each with its own
# stdout/stderr, environment and exit status, through `msdsm.cli.main(argv)` exactly as `python -m msdsm.cli` does.
FORK_SERVER = r"""
import json, os, signal, sys, traceback
import msdsm.cli, msdsm.train, msdsm.io, msdsm.metrics, msdsm.reproduce, msdsm.bench
active = {}
def reap():
    pid, status = os.wait()
    print(json.dumps(dict(id=active.pop(pid), code=os.waitstatus_to_exitcode(status))), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    while len(active) >= 2: reap()                 # two at a time: two cores
    pid = os.fork()
    if pid == 0:
        for fd, name in ((1, 'out'), (2, 'err')): os.dup2(os.open(req[name], os.O_WRONLY | os.O_CREAT), fd)
        os.environ.update(req['env']); os.chdir(req['cwd']); code = 0
        signal.alarm(240)                          # a case that hangs (a read that blocks) is killed, and fails
        try: msdsm.cli.main(req['argv'])
        except SystemExit as e: code = e.code if isinstance(e.code, int) else (e.code is not None)
        except BaseException: traceback.print_exc(); code = 1
        sys.stdout.flush(); sys.stderr.flush(); os._exit(code)
    active[pid] = req['id']
while active: reap()
"""

def run_forked(cases, tmp: Path, env: dict, envs=None, cwds=None) -> list:
    "(exit status, stdout, stderr) of `msdsm ARGS` for each case's args, forked from one warm interpreter."
    import subprocess, sys
    reqs = [dict(id=i, argv=[str(a) for a in args], env={**env, **((envs or {}).get(i) or {})},
                 cwd=str((cwds or {}).get(i) or Path.cwd()), out=str(tmp / f'.case{i}.out'),
                 err=str(tmp / f'.case{i}.err')) for i, args in enumerate(cases)]
    p = subprocess.run([sys.executable, '-c', FORK_SERVER], input=''.join(json.dumps(r) + '\n' for r in reqs),
                       capture_output=True, text=True, timeout=1200, env={**os.environ, 'MSDSM_OFFLINE': '1'})
    codes = {d['id']: d['code'] for d in map(json.loads, p.stdout.splitlines())}
    assert len(codes) == len(reqs), p.stderr[-3000:]
    return [(codes[r['id']], Path(r['out']).read_text(), Path(r['err']).read_text()) for r in reqs]


# the error is one line on stderr and nothing else (no note of work that was then refused), except where more
# lines are the answer: each unreadable checkpoint or log line skipped, the places searched for data, argparse's usage
MANY_LINES = {'resume an unsafe checkpoint', 'plot an empty log', 'empty --data-dir', 'bench of an unknown kind'}


@needs_fmnist
def test_bad_inputs(tmp_path, finished_run):
    SENTINEL.unlink(missing_ok=True)
    failures, cases = [], _cases(tmp_path, finished_run)
    before = {name: {p: digest(p) for p in keep} for name, _, _, _, keep in cases}
    ran = run_forked([c[1] for c in cases], tmp_path, env={'MSDSM_DATA': str(tmp_path / 'cifar')})
    for (name, args, text, code, keep), (rc, out, stderr) in zip(cases, ran):
        err = stderr.strip().splitlines()
        line = next((l for l in err if l.startswith('msdsm ')), '')
        ok = (rc == code and text in line and 'Traceback' not in stderr and (len(err) == 1 or name in MANY_LINES) and
              all(digest(q) == h for q, h in before[name].items()))
        print(f"{name:36s} exit {rc}  {line[:150]}")
        if not ok: failures.append(f"{name}: exit {rc} (want {code}), stderr:\n{stderr[-1500:]}")
    assert not SENTINEL.exists(), 'a pickle ran code'
    assert not (tmp_path / 'r1').exists(), 'a refused restore made its --out folder'
    assert not (tmp_path / 'd.json').exists(), 'a refused ood fit wrote a detector'
    assert not (tmp_path / 'ft').exists(), 'a refused folder training made its run folder'
    assert not failures, '\n\n'.join(failures)


@needs_fmnist
def test_things_that_used_to_fail_now_work(tmp_path, finished_run):
    torch.save({'samples': torch.rand(30, 1, 32, 32) * 2 - 1}, tmp_path / 'pm1.pt')
    with open(finished_run / 'log.jsonl', 'a') as f: f.write('{"step": 99, "lo')         # a truncated last line
    commands = [
        ['train', *TINY, 'iterations=2', 'out_dir=2024'],                # a folder name, not a number (cwd: tmp)
        ['train', *TINY, 'iterations=2', f'out_dir={tmp_path}/a #1'],    # a '#' is kept, not a YAML comment
        ['sample', finished_run, '--n', '2', '--steps', '5', '--out', tmp_path / 's.png', '--quiet'],
        ['evaluate', tmp_path / 'pm1.pt', '--rescale', 'signed', '--metrics', 'isc'],     # [-1, 1] mapped
        ['train', *TINY, 'iterations=2', 'out_dir=~/tilde'],              # `~` is the home folder (HOME: tmp)
        ['plot', finished_run, '--out', tmp_path / 'c.png']]             # the truncated line skipped, named
    ran = run_forked(commands, tmp_path, {}, envs={4: {'HOME': str(tmp_path)}}, cwds={0: tmp_path})
    for args, (rc, out, err) in zip(commands, ran): assert rc == 0 and 'Traceback' not in err, (args, err[-1500:])
    assert (tmp_path / '2024' / 'energy' / 'energy.json').exists() and (tmp_path / 'a #1' / 'checkpoints').is_dir()
    assert '5-step paper schedule' in ran[2][1] and torch.load(tmp_path / 's.pt')['steps'] == 5
    # the skipped line is reported in one line saying what it is, not as Python's warning with its source line
    assert 'note: ' in ran[5][2] and 'skipping a truncated record' in ran[5][2] and 'warnings.warn(' not in ran[5][2], ran[5][2]
    assert (tmp_path / 'tilde' / 'energy' / 'energy.json').exists() and not (Path.cwd() / '~').exists()
    assert 'skipping a truncated record' in ran[5][2] and (tmp_path / 'c.png').stat().st_size > 1000



@needs_fmnist
def test_overwrite_and_plot_replace_msdsm_own_files(tmp_path, finished_run):
    "What msdsm wrote it may replace: --overwrite of its own run (a record a kill cut short included), its curves."
    run_dir = tmp_path / 'again'; shutil.copytree(finished_run, run_dir)
    with open(run_dir / 'log.jsonl', 'a') as f: f.write('{"step": 10, "lo')
    (run_dir / 'checkpoints' / f'.ckpt-00000011.pt.msdsm-{2 ** 22 + 1}.otherhost.tmp').write_bytes(b'half a write')
    cut = tmp_path / 'cut'; shutil.copytree(finished_run, cut)              # an export cut short, a power loss
    (cut / 'energy' / 'energy.json').unlink(); (cut / 'log.jsonl').open('ab').write(b'\n{"st' + bytes(50))
    for argv in (['train', *TINY, 'iterations=2', f'out_dir={run_dir}', '--overwrite'], ['plot', run_dir], ['plot', run_dir],
                 ['plot', run_dir, '--out', run_dir / 'curves.png'], ['train', *TINY, 'iterations=2', 'sample_every=2',
                 f'out_dir={cut}', '--overwrite'], ['train', *TINY, 'iterations=2', f'out_dir={cut}', '--overwrite']):
        (rc, out, err), = run_forked([argv], tmp_path, {})
        assert rc == 0 and 'Traceback' not in err, (argv, err[-1500:])
    assert [p.name for p in (run_dir / 'checkpoints').iterdir()] == ['ckpt-00000002.pt']
    assert (run_dir / 'curves.png').stat().st_size > 1000 and not (cut / 'samples').exists()
    # an experiment stopped after its figure, before its results: its executed copy shows the figure is msdsm's
    from msdsm.reproduce import _check_outputs
    out, runs = tmp_path / 'rep', tmp_path / 'rep' / 'reports' / 'tiny'
    (out / 'figures' / 'tiny').mkdir(parents=True); runs.mkdir(parents=True)
    import matplotlib.pyplot as plt
    fig = plt.figure(); fig.savefig(out / 'figures' / 'tiny' / 'data_overview.png'); plt.close(fig)   # unmarked, older
    with pytest.raises(ValueError, match='was not written by msdsm reproduce'): _check_outputs(['data_overview'], 'tiny', out, runs, ROOT)
    def copy_into(out_dir):              # an executed copy, as papermill records it
        pm = dict(input_path=str(ROOT / 'nbs' / 'experiments' / 'data_overview.ipynb'),
                  parameters=dict(profile='tiny', out_dir=str(out_dir), device='cpu'))
        (runs / 'data_overview.ipynb').write_text(json.dumps(dict(cells=[], metadata=dict(papermill=pm))))
    copy_into(tmp_path / 'elsewhere')    # a copy from a run into another folder proves nothing about this one
    with pytest.raises(ValueError, match='was not written by msdsm reproduce'): _check_outputs(['data_overview'], 'tiny', out, runs, ROOT)
    copy_into(out); _check_outputs(['data_overview'], 'tiny', out, runs, ROOT)
    (runs / 'data_overview.ipynb').write_text('')             # a copy whose write was cut short: nothing to lose
    (out / 'figures' / 'tiny' / 'data_overview.png').unlink(); _check_outputs(['data_overview'], 'tiny', out, runs, ROOT)
    # a record cut short by a kill anywhere in the log (a resume writes on after it) is msdsm's; a line of someone's not
    from msdsm.train import _our_log
    rec = (finished_run / 'log.jsonl').read_text().splitlines()[0]
    for lines, ours in (([rec, '{"st', rec], True), ([rec, '{"user": 1}', rec], False)):
        (tmp_path / 'log.jsonl').write_text('\n'.join(lines) + '\n'); assert _our_log(tmp_path / 'log.jsonl') == ours
    # a grid from before grids were tagged: a PNG matplotlib drew, in a run whose settings msdsm wrote
    import matplotlib.pyplot as plt
    from PIL import Image
    from msdsm.train import _msdsm_grid
    (run_dir / 'samples').mkdir(exist_ok=True); fig = plt.figure(); fig.savefig(run_dir / 'samples' / 'step-00000001.png'); plt.close(fig)
    Image.new('L', (8, 8)).save(run_dir / 'samples' / 'step-00000002.png')
    assert _msdsm_grid(run_dir / 'samples' / 'step-00000001.png') and not _msdsm_grid(run_dir / 'samples' / 'step-00000002.png')

def test_cached_reference_features_follow_the_weights(tmp_path):
    "Other feature-extractor weights, other cached reference features (and the result names the weights)."
    from safetensors.torch import load_file, save_file
    from msdsm.metrics import evaluate, classifier_path
    sd = load_file(str(classifier_path()))
    save_file({k: v + 0.05 * torch.randn_like(v) if v.is_floating_point() and v.ndim > 1 else v for k, v in sd.items()},
              str(tmp_path / 'other.safetensors'))
    g = torch.Generator().manual_seed(0)
    x, ref = torch.rand(40, 1, 32, 32, generator=g), torch.rand(60, 1, 32, 32, generator=g)
    kw = dict(reference=ref, metrics=['fid'], cache_root=tmp_path / 'cache')
    a = evaluate(x, **kw); b = evaluate(x, weights_path=tmp_path / 'other.safetensors', **kw); c = evaluate(x, **kw)
    assert a['fid'] != b['fid'] and a['fid'] == c['fid'], (a['fid'], b['fid'], c['fid'])
    assert a['feature_weights_sha'] != b['feature_weights_sha'] and 'other.safetensors' in b['feature_weights']


def test_28x28_samples_are_padded_like_the_reference():
    "28×28 samples are zero-padded to 32×32 as the reference images are (stretching them changed every metric)."
    import torch.nn.functional as F
    from msdsm.metrics import evaluate
    g = torch.Generator().manual_seed(1)
    x, ref = torch.rand(40, 1, 28, 28, generator=g), torch.rand(60, 1, 32, 32, generator=g)
    a = evaluate(x, reference=ref, metrics=['fid'])
    b = evaluate(F.pad(x, (2, 2, 2, 2)), reference=ref, metrics=['fid'])
    assert a['fid'] == b['fid']


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
    assert e.value.code == 2 and 'ckpt-00000004.pt' in err and 'no space left' in err and 'ckpt-00000002.pt is intact' in err
    monkeypatch.undo()
    assert io.load_checkpoint(tmp_path / 'r' / 'checkpoints' / 'ckpt-00000002.pt')['step'] == 2
    assert sorted(p.name for p in (tmp_path / 'r' / 'checkpoints').iterdir()) == ['ckpt-00000002.pt']
