"""One GPU session in one command: train the Fashion-MNIST paper recipe for as many iterations as fit a time budget,
sample from it with the paper schedule, then run `msdsm bench` cases while time remains.

Every phase writes into $OUT as it goes, so a phase cut short still leaves what came before. Run (GPU machine):

    benchmarks/gpu_python.sh benchmarks/gpu_session.py --out $OUT --data-dir .carry/data --budget 540

and at tiny size on a CPU (what the test of this script does):

    python benchmarks/gpu_session.py --out /tmp/gs --tiny
"""
import argparse, json, os, shutil, sys, tarfile, time, traceback
from pathlib import Path

T0 = time.time()
def left(budget): return budget - (time.time() - T0)
def log(*a):
    print(f"[{time.time() - T0:6.1f}s]", *a, flush=True)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True); ap.add_argument('--data-dir'); ap.add_argument('--budget', type=float, default=540)
    ap.add_argument('--train-seconds', type=float, default=180); ap.add_argument('--sample-seconds', type=float, default=60)
    ap.add_argument('--tiny', action='store_true')
    a = ap.parse_args()
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    work = out / 'session'; work.mkdir(exist_ok=True)
    import torch
    from msdsm.data import load_images, save_grid
    from msdsm.train import Trainer, make_config
    from msdsm.io import save_energy
    from msdsm.langevin import annealed_langevin, initial_noise, make_schedule, denoise
    cuda = torch.cuda.is_available()
    info = dict(torch=torch.__version__, python=sys.version.split()[0], cuda=cuda,
                device=torch.cuda.get_device_name(0) if cuda else 'cpu', tiny=a.tiny)
    log('environment', info)
    images, _ = load_images('fashion_mnist', 'train', root=a.data_dir, download=False)
    summary = dict(info=info, phases={})

    # ---- 1. probe the step time of the fast path (CUDA graphs first, plain compile as fallback) ----------------------
    base = ['progress=false', 'log_every=500', 'sample_every=0', 'keep_ckpts=1']
    if a.tiny: base += ['width=8', 'batch_size=16', 'precision=bf16', 'compile=true']
    step_s, mode_used = None, None
    for mode in (['reduce-overhead', 'default'] if cuda else ['default']):
        try:
            t = time.time()
            probe = Trainer(make_config('fmnist-paper', overrides=base + [f'compile_mode={mode}', f'out_dir={work}/probe']), images=images)
            for _ in range(3): probe.train_step()
            loss = probe.train_step().item(); compile_s = time.time() - t
            n = 20 if a.tiny else 200
            if cuda: torch.cuda.synchronize()
            t = time.time()
            for _ in range(n): probe.train_step()
            if cuda: torch.cuda.synchronize()
            step_s, mode_used = (time.time() - t) / n, mode
            summary['phases']['probe'] = dict(mode=mode, compile_and_first_steps_s=compile_s, step_ms=1e3 * step_s, loss=loss)
            log(f'probe {mode}: {1e3 * step_s:.2f} ms/step (compile + 4 steps {compile_s:.1f}s)')
            del probe
            break
        except Exception as e:
            log(f'probe {mode} failed: {type(e).__name__}: {e}'); traceback.print_exc()
            summary['phases'].setdefault('probe_failures', []).append(f'{mode}: {type(e).__name__}: {e}')
    (out / 'summary.json').write_text(json.dumps(summary, indent=2))

    # ---- 2. train the paper recipe for as many iterations as fit -------------------------------------------------
    energy = None
    if step_s is not None:
        iters = 40 if a.tiny else int(min(100_000, a.train_seconds / (step_s * 1.08)) // 100 * 100)
        log(f'training fmnist-paper for {iters} iterations ({mode_used})')
        cfg = make_config('fmnist-paper', overrides=base + [f'compile_mode={mode_used}', f'iterations={iters}',
                                                             f'ckpt_every={max(iters // 2, 1)}', f'out_dir={work}/fmnist'])
        t = time.time()
        tr = Trainer(cfg, images=images).fit()
        train_s = time.time() - t
        energy = tr.ema
        save_energy(tr.ema, out / 'model', dtype=torch.float16, max_shard_mb=15.5,
                    meta=dict(recipe='fmnist-paper', iterations=iters, card=info['device'], torch=info['torch'],
                              train_seconds=train_s, compile_mode=mode_used, ema_decay=cfg.ema_decay,
                              command='benchmarks/gpu_python.sh benchmarks/gpu_session.py --out $OUT --data-dir .carry/data'))
        from msdsm.train import read_log, plot_run
        lg = read_log(work / 'fmnist')
        plot_run(work / 'fmnist', work / 'curves.png')
        summary['phases']['train'] = dict(iterations=iters, seconds=train_s, ms_per_iteration=1e3 * train_s / iters,
                                          final_log=lg[-1], compile_mode=mode_used)
        log('trained', summary['phases']['train'])
        shutil.rmtree(work / 'fmnist' / 'checkpoints'); shutil.rmtree(work / 'fmnist' / 'energy')   # too big to bring back; weights are in model/
        (out / 'summary.json').write_text(json.dumps(summary, indent=2))

    # ---- 3. samples with the paper schedule (2700 steps) + trajectories -----------------------------------------
    if energy is not None and left(a.budget) > 60:
        try:
            temps = make_schedule('short', 54) if a.tiny else make_schedule('paper')
            bs = 16 if a.tiny else 2048
            g = torch.Generator('cuda' if cuda else 'cpu'); g.manual_seed(0)
            dev = 'cuda' if cuda else 'cpu'
            t = time.time(); xs = []; snaps = None; trace = None
            while True:
                res = annealed_langevin(energy, initial_noise(bs, (1, 32, 32), dev, g), temps, generator=g, progress=False,
                                        snapshot_every=None if xs else len(temps) // 9)
                den = denoise(energy, res.samples, 0.1).clamp(0, 1)
                if not xs: snaps, trace, raw0 = res.snapshots[:, :16].clone(), res.energies[:, :64].clone(), res.samples[:16].cpu()
                xs.append((den * 255).round().to(torch.uint8).cpu())
                per_batch = (time.time() - t) / len(xs)
                if a.tiny or time.time() - t + per_batch > a.sample_seconds or left(a.budget) < 150: break
            x = torch.cat(xs)
            torch.save(dict(samples_uint8=x, schedule='paper (2700 steps)' if not a.tiny else 'short', step_size=0.02, seed=0,
                            denoised=True, snapshots=snaps, snapshot_raw_final=raw0, energy_trace=trace,
                            temperatures=res.temperatures), work / 'samples.pt')
            save_grid(x[:64], work / 'samples.png', nrow=8, title=f'Fashion-MNIST, {len(temps)}-step paper schedule + denoising jump')
            summary['phases']['sample'] = dict(n=len(x), seconds=time.time() - t, batch=bs, steps=len(temps),
                                               ms_per_langevin_step_batch=1e3 * per_batch / len(temps))
            log('sampled', summary['phases']['sample'])
        except Exception as e:
            log(f'sampling failed: {e}'); traceback.print_exc(); summary['phases']['sample_error'] = repr(e)
        (out / 'summary.json').write_text(json.dumps(summary, indent=2))

    # ---- 4. benchmark cases while time remains --------------------------------------------------------------------
    from msdsm import bench
    res = dict(device=info['device'], torch=info['torch'], date=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
               quick=a.tiny, cases=[], peak_bf16_tflops_measured=bench.peak_bf16_tflops('cuda' if cuda else 'cpu'))
    cases = bench._cases(torch.device('cuda' if cuda else 'cpu'), a.tiny)
    order = sorted(cases, key=lambda c: (c['bs'] == 512, c['kind'] != 'train', c['arch'] != 'res12'))   # cheapest to compile first
    for c in order:
        need = 30 if a.tiny else (110 if c['arch'] == 'res18' else 70)
        if left(a.budget) < need:
            log(f"skipping bench {c} ({left(a.budget):.0f}s left)"); res.setdefault('skipped', []).append(c); continue
        try:
            r = bench.bench_case(c, 'cuda' if cuda else 'cpu', 3 if a.tiny else 15, res['peak_bf16_tflops_measured'])
            key = (r['kind'], r['arch'], r['batch_size'])
            res['cases'].append(r)
            log(f"bench {key}: msdsm {r['msdsm']['median_ms']:.2f} ms vs reference fp32 {r['reference_fp32']['median_ms']:.2f} ms; check {r['check']['passed']}")
        except Exception as e:
            log(f'bench {c} failed: {e}'); traceback.print_exc(); res.setdefault('errors', []).append(f'{c}: {e!r}')
        (out / 'bench.json').write_text(json.dumps(res, indent=2))
    if res['cases']: print(bench.format_table(res))
    summary['total_seconds'] = time.time() - T0
    (out / 'summary.json').write_text(json.dumps(summary, indent=2))
    with tarfile.open(out / 'session.tar.gz', 'w:gz') as tf: tf.add(work, arcname='session')
    shutil.rmtree(work)
    log('done')

if __name__ == '__main__':
    main()
