"""The paper's Fashion-MNIST model, trained in full (`fmnist-paper`, 100,000 iterations, its own cosine schedule, EMA),
within GPU commands of limited length.

Each call trains for at most `--budget` seconds, then stops at a step boundary with a checkpoint (the trainer's own
SIGTERM path) in `--run` — a folder on the GPU machine's local disk. A second call made while the machine is still up
continues the same run from that checkpoint (`Trainer.resume`): the finished run is one uninterrupted recipe, and its
log records each resume. At 25k, 50k, 75k and 100k iterations it draws `--milestone-n` samples with the paper's
2700-step schedule from the EMA weights (the learning curve of sample quality). After each call, what the machine
can return goes to `--out`: at most 8 files of at most 15.5 MiB — the EMA weights in float16 shards, and one tar.gz
with the log, the resolved config, the loss curves, the milestone samples and a summary.

GPU machine (H100/H200; Fashion-MNIST carried in .carry/data):

    MSDSM_COMMIT=<commit> benchmarks/gpu_python.sh benchmarks/train_full.py --run /tmp/msdsm-full --out $OUT \\
        --data-dir .carry/data --budget 520

CPU, tiny (what `tests/test_train_full.py` does): `python benchmarks/train_full.py --tiny --run R --out O --budget 60`
"""
import argparse, json, os, signal, sys, tarfile, threading, time
from pathlib import Path

import torch

MILESTONES = (25_000, 50_000, 75_000, 100_000)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--run', required=True); ap.add_argument('--out', required=True); ap.add_argument('--data-dir')
    ap.add_argument('--budget', type=float, default=520, help='seconds of training in this call')
    ap.add_argument('--milestone-n', type=int, default=1000); ap.add_argument('--tiny', action='store_true')
    a = ap.parse_args(argv)
    from msdsm.data import load_images
    from msdsm.io import list_checkpoints, save_energy
    from msdsm.train import Trainer, TrainingInterrupted, make_config, plot_run
    run, out = Path(a.run), Path(a.out); out.mkdir(parents=True, exist_ok=True)
    images, _ = load_images('fashion_mnist', 'train', root=a.data_dir, download=False)
    milestones = tuple(m // 625 for m in MILESTONES) if a.tiny else MILESTONES
    if list_checkpoints(run):
        t = Trainer.resume(run, images=images)
    else:
        ov = dict(out_dir=str(run), ckpt_every=milestones[0] // 5, keep_ckpts=2, log_every=max(1, milestones[0] // 50),
                  sample_every=milestones[0], sample_steps=2700, sample_n=a.milestone_n, progress=False)
        if a.tiny: ov |= dict(width=8, batch_size=16, iterations=milestones[-1], sample_steps=30, device='cpu')
        t = Trainer(make_config('fmnist-paper', overrides=[ov]), images=images)
    start_step, t0 = t.step, time.time()
    print(f"{'resuming at' if start_step else 'starting'} step {start_step} of {t.cfg.iterations}; budget {a.budget:.0f} s; "
          f"device {t.device} ({torch.cuda.get_device_name(0) if t.device.type == 'cuda' else 'cpu'})", flush=True)

    keep_samples = t.sample_grid                                    # milestone previews: keep the samples themselves
    def sample_and_keep(*args, **kw):
        x = keep_samples(*args, **kw)
        torch.save(dict(samples_uint8=(x * 255).round().to(torch.uint8), step=t.step, schedule_steps=t.cfg.sample_steps,
                        seed=0, ema=t.ema is not None), run / 'samples' / f'samples-{t.step:08d}.pt')
        return x
    t.sample_grid = sample_and_keep

    signal.signal(signal.SIGTERM, lambda *_: None)      # a timer firing just after fit() returns must not kill us
    timer = threading.Timer(a.budget, lambda: os.kill(os.getpid(), signal.SIGTERM))     # stop at a step boundary
    timer.start()
    try: t.fit(); finished = True
    except TrainingInterrupted: finished = False
    finally: timer.cancel()
    seconds = time.time() - t0
    summary = dict(finished=finished, start_step=start_step, step=t.step, iterations=t.cfg.iterations, seconds=seconds,
                   ms_per_iteration=1e3 * seconds / max(1, t.step - start_step), settings=t.settings,
                   card=torch.cuda.get_device_name(0) if t.device.type == 'cuda' else 'cpu', torch=str(torch.__version__))
    print(json.dumps(summary, indent=1), flush=True)
    pack(t, run, out, summary, save_energy, plot_run)
    return summary


def pack(t, run: Path, out: Path, summary: dict, save_energy, plot_run):
    "What the GPU machine returns: EMA weights (float16 shards) + one tar.gz of log, config, curves, samples, summary."
    m = t.ema or t.model
    save_energy(m, out / 'model', dtype=torch.float16, max_shard_mb=15.5,
                meta=dict(recipe='fmnist-paper', step=t.step, finished=summary['finished'], card=summary['card'],
                          torch=summary['torch'], commit=os.environ.get('MSDSM_COMMIT')))
    (run / 'summary.json').write_text(json.dumps(summary, indent=2))
    try: plot_run(run, run / 'curves.png')
    except (ValueError, FileNotFoundError): pass          # no log line yet
    with tarfile.open(out / 'run.tar.gz', 'w:gz') as tar:
        for name in ('log.jsonl', 'config.yaml', 'curves.png', 'summary.json', 'samples'):
            if (run / name).exists(): tar.add(run / name, arcname=name)
    files = sorted(p for p in out.rglob('*') if p.is_file())
    assert len(files) <= 8 and all(p.stat().st_size <= 15.5 * 2 ** 20 for p in files), files


if __name__ == '__main__':
    main()
