"The command line: the issue's example run, sampling, plotting, and each error message."
import json
from pathlib import Path
import pytest, torch
from conftest import run, MSDSM, needs_fmnist, ROOT

@needs_fmnist
def test_train_example_command(tmp_path):
    out = tmp_path / 'run'
    p = run(*MSDSM, 'train', '--recipe', 'fmnist-paper', 'iterations=20', 'width=8', 'batch_size=16', 'log_every=10',
            'sample_every=20', 'sample_steps=30', f'out_dir={out}')
    assert 'MDSM' in p.stderr                                # the progress bar
    assert (out / 'log.jsonl').exists() and (out / 'checkpoints' / 'ckpt-00000020.pt').exists()
    assert (out / 'samples' / 'step-00000020.png').exists() and (out / 'energy' / 'energy.safetensors').exists()
    assert (out / 'config.yaml').read_text().count('iterations: 20') == 1
    # sample: same seed, same samples
    for i in (1, 2): run(*MSDSM, 'sample', out, '--n', 4, '--schedule', 'short', '--steps', 20, '--seed', 3, '--out', tmp_path / f's{i}.png', '--quiet')
    a, b = (torch.load(tmp_path / f's{i}.pt')['samples'] for i in (1, 2))
    assert a.shape == (4, 1, 32, 32) and torch.equal(a, b)
    kept = torch.load(tmp_path / 's1.pt')        # everything that changes the samples is recorded with them
    assert {k: kept[k] for k in ('step_size', 'sigma0', 'batch_size', 'fast', 'seed', 'steps')} == dict(
        step_size=0.02, sigma0=0.1, batch_size=1024, fast=False, seed=3, steps=20), kept.keys()
    assert kept['model_file'].endswith('ckpt-00000020.pt'), kept['model_file']
    # --uint8: the same samples quantised (a quarter of the size), read back by load_samples as they are
    run(*MSDSM, 'sample', out, '--n', 4, '--schedule', 'short', '--steps', 20, '--seed', 3, '--out', tmp_path / 'u.png',
        '--quiet', '--uint8')
    from msdsm.io import load_samples
    u = load_samples(tmp_path / 'u.pt')
    assert u.dtype == torch.uint8 and torch.equal(u, (a * 255).round().to(torch.uint8))
    run(*MSDSM, 'plot', out)
    assert (out / 'curves.png').exists()

def test_shipped_model_loads_and_separates_data_from_noise():
    from msdsm.io import load_energy
    m = load_energy(ROOT / 'models' / 'fmnist-paper')
    assert sum(p.numel() for p in m.parameters()) == 9_060_483
    s = torch.load(ROOT / 'models' / 'fmnist-paper' / 'samples-2048.pt')['samples_uint8'][:64].float() / 255
    with torch.no_grad(): e_samples, e_noise = m(s).mean(), m(torch.rand(64, 1, 32, 32)).mean()
    assert e_samples < e_noise

@pytest.mark.parametrize('args,code,text', [
    (['train', '--recipe', 'cifar11'], 2, 'Known recipes'),
    (['train', '--recipe', 'fmnist-paper', 'btach_size=3'], 2, 'did you mean batch_size'),
    (['train', '--recipe', 'fmnist-paper', 'precision=fp8'], 2, 'precision'),
    (['train', 'dataset=imagenet'], 2, 'Unknown dataset'),
    (['train', '--recipe', 'cifar10-paper', '--data-dir', '/nonexistent', 'iterations=1'], 2, 'cifar-10-batches-py'),
    (['train', '--resume', '/nonexistent/run'], 2, 'No checkpoints'),
    (['sample', '/nonexistent/model'], 2, 'energy.json'),
    (['plot', '/nonexistent/run'], 2, 'log.jsonl'),
    (['reproduce', '--profile', 'enormous'], 2, 'known profiles'),
    (['reproduce', '--only', 'no_such_experiment'], 2, 'Unknown experiment'),
])
def test_errors_are_clear(args, code, text):
    p = run(*MSDSM, *args, check=False, timeout=120)
    assert p.returncode == code, p.stderr
    assert text in p.stderr and 'Traceback' not in p.stderr, p.stderr

def test_mismatched_checkpoint(tmp_path):
    from msdsm.train import Trainer, make_config
    from msdsm.io import CheckpointError
    imgs = torch.randint(0, 256, (64, 1, 32, 32), dtype=torch.uint8)
    base = ['width=8', 'batch_size=8', 'iterations=2', 'ckpt_every=2', 'device=cpu', 'progress=false', 'sample_every=0']
    Trainer(make_config('fmnist-paper', overrides=base + [f'out_dir={tmp_path / "a"}']), images=imgs).fit()
    with pytest.raises(ValueError, match='cannot change width'):
        Trainer.resume(tmp_path / 'a', overrides=['width=16'], images=imgs)
    from msdsm.io import latest_checkpoint
    other = Trainer(make_config('fmnist-paper', overrides=base + ['width=16', f'out_dir={tmp_path / "b"}']), images=imgs)
    with pytest.raises(CheckpointError, match='width: checkpoint 8 vs config 16'):
        other.load_state_dict(latest_checkpoint(tmp_path / 'a')[1])

def test_evaluate_command(tmp_path):
    samples = ROOT / 'models' / 'fmnist-paper' / 'samples-2048.pt'
    p = run(*MSDSM, 'evaluate', samples, '--n', 200, '--metrics', 'fid', 'isc', '--json', tmp_path / 'm.json')
    r = json.loads((tmp_path / 'm.json').read_text())
    assert r['n_samples'] == 200 and r['features'] == 'fmnist-cnn' and r['fid'] > 0
    import hashlib
    assert r['rescale'] is None and r['samples'] == str(samples) and r['samples_sha256'] == hashlib.sha256(samples.read_bytes()).hexdigest()
    # IS by hand from the shipped classifier's logits: 10 splits of 20, exp(mean KL(p(y|x) ‖ p(y))) each, averaged
    from msdsm.metrics import load_classifier
    from msdsm.io import load_samples
    with torch.no_grad(): logits = load_classifier()(load_samples(samples)[:200].float() / 255).double()
    probs = logits.softmax(1)
    by_hand = torch.stack([torch.exp((c * (c.log() - c.mean(0, keepdim=True).log())).sum(1).mean()) for c in probs.split(20)])
    assert abs(r['isc'] - by_hand.mean().item()) < 1e-4 * by_hand.mean().item(), (r['isc'], by_hand.mean().item())
    assert 'FID (Fashion-MNIST classifier features)' in p.stdout
    folder = tmp_path / 'pngs'; folder.mkdir()
    from PIL import Image
    x = torch.load(samples)['samples_uint8'][:20]
    for i, im in enumerate(x): Image.fromarray(im[0].numpy()).save(folder / f'{i:03d}.png')
    run(*MSDSM, 'evaluate', folder, '--metrics', 'isc', '--json', tmp_path / 'f.json')
    assert json.loads((tmp_path / 'f.json').read_text())['n_samples'] == 20

def test_classifier_weights_from_the_environment_are_recorded(tmp_path):
    "Weights given through $MSDSM_FMNIST_CLASSIFIER are named in the results, like --weights (not 'built-in')."
    import shutil
    from msdsm.metrics import classifier_path
    other = tmp_path / 'other.safetensors'; shutil.copy(classifier_path(), other)
    samples = ROOT / 'models' / 'fmnist-paper' / 'samples-2048.pt'
    run(*MSDSM, 'evaluate', samples, '--n', 200, '--metrics', 'isc', '--json', tmp_path / 'e.json',
        env={'MSDSM_FMNIST_CLASSIFIER': str(other)})
    assert json.loads((tmp_path / 'e.json').read_text())['feature_weights'] == str(other)


def test_offline_download_of_feature_weights_is_explained(tmp_path, monkeypatch):
    "An extractor whose weights torch-fidelity downloads, on a machine without network: the message says what to do."
    import urllib.error
    import torch.hub
    from msdsm.metrics import evaluate
    def offline(url, dst, *a, **k): raise urllib.error.URLError('Name or service not known')
    monkeypatch.setattr(torch.hub, 'download_url_to_file', offline)
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))      # nothing cached: the download is tried
    with pytest.raises(FileNotFoundError, match=r"could not download this extractor's weights \(Name or service"):
        evaluate(torch.rand(30, 1, 32, 32), reference=torch.rand(30, 1, 32, 32), features='vgg16', metrics=('fid',),
                 cache_root=tmp_path / 'cache')


def test_interrupted_bench_says_what_it_left(tmp_path):
    "SIGTERM between cases: the JSON keeps the cases measured so far, marked incomplete, and the message says so."
    import os, signal, subprocess, sys, time
    out = tmp_path / 'b.json'
    p = subprocess.Popen([*MSDSM, 'bench', '--device', 'cpu', '--quick', '--json', str(out)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env={**os.environ, 'MSDSM_OFFLINE': '1'})
    t0 = time.monotonic()
    while not out.exists() and p.poll() is None and time.monotonic() - t0 < 300: time.sleep(0.05)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    rec = json.loads(out.read_text())
    assert p.returncode == 143 and rec['complete'] is False and len(rec['cases']) == 1, (p.returncode, err, rec)
    assert f'the cases measured so far are in {out}, marked "complete": false' in err and 'Traceback' not in err, err
