"""The speed levers of the GPU training step, each timed in one run against the current default, each with the
correctness check.

The MDSM step of the `fmnist-paper` network (Res12-64, 1×32×32, batch 128) spends most of its GPU time in a few
convolution kernels (H200 profile, `RESULTS.md`); the 1-channel stem is the prime suspect. Every variant below computes the
same loss with the same weights; each runs in its own process under its own time limit (so a lever that hangs in
compilation or crashes costs only its own budget), and each is checked against fp32 eager on the same batch
(`msdsm.bench._grad_check`: loss, gradient cosine, every parameter has a gradient).

    default            msdsm's CUDA defaults (bf16, channels_last, whole loss compiled with CUDA graphs, fused Adam)
    stem_unfold        the stem convolution as im2col + one matmul (same weights): no 1-channel convolution kernels
    stem_pad8          the stem on the input and its weight zero-padded to 8 channels (the same function and weights)
    stem_nchw          the stem in NCHW (its 1-channel input and gradients), the rest channels_last
    stem_fp32          the stem outside bf16 autocast
    no_channels_last   the whole network in NCHW
    cudnn_benchmark    cuDNN picks its algorithms by timing them
    max_autotune       compile_mode=max-autotune (Triton convolution templates among the candidates); compile time kept

Run on a GPU (one H100/H200), after `msdsm bench --breakdown`:

    offline/python.sh benchmarks/levers.py --device cuda --json $OUT/levers.json [--langevin-batch 1024]

or both, each part under its own time limit, with `benchmarks/gpu_speed.sh` (two commands).

and at tiny size on a CPU (what `tests/test_levers.py` does; no compilation there, so it checks the variants' maths):

    python benchmarks/levers.py --device cpu --width 8 --batch 8 --repeat 3 --json /tmp/levers.json
"""
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = {                                        # most promising first: a run cut short has measured these
    'default': dict(),
    'stem_unfold': dict(stem='unfold'),
    'stem_pad8': dict(stem='pad8'),
    'stem_nchw': dict(stem='nchw'),
    'stem_fp32': dict(stem='fp32'),
    'no_channels_last': dict(overrides=dict(channels_last=False)),
    'cudnn_benchmark': dict(cudnn_benchmark=True),
    'max_autotune': dict(overrides=dict(compile_mode='max-autotune'), budget=300),
}


class Stem(torch.nn.Module):
    """The stem convolution computed another way. It holds the original `weight` and `bias` under the same names, so
    state dicts (and the fp32 reference of the check) are unchanged."""
    def __init__(self, conv: torch.nn.Conv2d, how: str):
        super().__init__()
        self.weight, self.bias, self.how, self.padding = conv.weight, conv.bias, how, conv.padding

    def forward(self, x):
        cl = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
        to_cl = (lambda h: h.contiguous(memory_format=torch.channels_last)) if cl else (lambda h: h)
        if self.how == 'unfold':                        # B × C·9 × H·W patches, one (O × C·9) matmul
            B, _, H, W = x.shape
            cols = F.unfold(x.contiguous(), self.weight.shape[-2:], padding=self.padding)
            out = (self.weight.flatten(1) @ cols).view(B, -1, H, W) + self.bias.view(1, -1, 1, 1)
            return to_cl(out)
        if self.how == 'pad8':                          # zero channels on both sides: tensor-core friendly C = 8
            pad = 8 - x.shape[1]
            return F.conv2d(to_cl(F.pad(x, (0, 0, 0, 0, 0, pad))), F.pad(self.weight, (0, 0, 0, 0, 0, pad)),
                            self.bias, padding=self.padding)
        if self.how == 'nchw':
            return to_cl(F.conv2d(x.contiguous(), self.weight, self.bias, padding=self.padding))
        if self.how == 'fp32':
            with torch.autocast(x.device.type, enabled=False):
                return F.conv2d(x.float(), self.weight.float(), self.bias.float(), padding=self.padding)
        raise ValueError(f'unknown stem variant {self.how!r}')


def run_one(name, device, width, batch, repeat, langevin_batch) -> dict:
    "One variant in this process: the step's time (median, CUDA events on a GPU), first-step time, the check."
    from msdsm.bench import time_ms, _grad_check, _sync, recipe_trainer
    from msdsm.energy import build_energy
    from msdsm.langevin import fast_energy_grad
    v, dev = VARIANTS[name], torch.device(device)
    torch.backends.cudnn.benchmark = bool(v.get('cudnn_benchmark'))
    torch.manual_seed(0)
    model = build_energy('res12', in_channels=1, width=width)
    if v.get('stem'): model.stem = Stem(model.stem, v['stem'])
    with tempfile.TemporaryDirectory() as d:
        tr = recipe_trainer(width, batch, dev, d, model=model, **v.get('overrides', {}))
        t0 = time.perf_counter(); tr.train_step(); _sync(dev); first = time.perf_counter() - t0
        res = dict(variant=name, step=time_ms(tr.train_step, dev, 5, repeat), first_step_s=first,
                   settings={k: str(x) for k, x in tr.settings.items()}, check=_grad_check(tr, dev))
    if langevin_batch:                                  # the sampler's x ↦ (E, ∇E) with the same stem
        x = torch.rand(langevin_batch, 1, 32, 32, device=dev)
        m = tr.model.eval()
        eg = fast_energy_grad(m, x, precision=tr.precision, compile=tr.compiled)
        t0 = time.perf_counter(); eg(x); _sync(dev); res['langevin_first_s'] = time.perf_counter() - t0
        res['langevin'] = time_ms(lambda: eg(x), dev, 3, repeat)
    return res


def run_all(names, device, width, batch, repeat, langevin_batch, json_path=None, budget=240) -> dict:
    "Each variant in a child process with its own time limit; results written after each, so a killed run keeps them."
    out = dict(device=torch.cuda.get_device_name() if torch.device(device).type == 'cuda' else 'cpu',
               torch=torch.__version__, width=width, batch=batch, repeat=repeat, variants=[])
    env = {**os.environ, 'PYTHONPATH': f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    for name in names:
        limit = VARIANTS[name].get('budget', budget)
        cmd = [sys.executable, __file__, '--one', name, '--device', device, '--width', str(width), '--batch',
               str(batch), '--repeat', str(repeat), '--langevin-batch', str(langevin_batch)]
        t0 = time.perf_counter()
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=limit, env=env)
            lines = [l for l in p.stdout.splitlines() if l.startswith('{')]
            r = json.loads(lines[-1]) if p.returncode == 0 and lines else dict(
                variant=name, status='failed', error=(p.stderr or p.stdout)[-1500:])
        except subprocess.TimeoutExpired:
            r = dict(variant=name, status=f'timed out after {limit} s')
        r.setdefault('status', 'ok'); r['wall_s'] = time.perf_counter() - t0
        out['variants'].append(r)
        print(line(r, out['variants'][0]), flush=True)
        if json_path: Path(json_path).write_text(json.dumps(out, indent=2))
    print('\n' + table(out))
    return out


def line(r, base) -> str:
    if r['status'] != 'ok':
        return f"{r['variant']:18s} {r['status']}" + (f": {r['error'][-300:]}" if 'error' in r else '')
    ms, b = r['step']['median_ms'], base.get('step', {}).get('median_ms')
    return (f"{r['variant']:18s} {ms:9.3f} ms" + (f"  ×{b / ms:5.2f} vs default" if b else '') +
            f"  first step {r['first_step_s']:.1f} s  check {'ok' if r['check']['passed'] else 'FAILED'}"
            f" (cos {r['check']['grad_cosine']:.6f})")


def table(out) -> str:
    "Markdown for benchmarks/RESULTS.md: every variant, kept or not, with its time and its check."
    base = next((r for r in out['variants'] if r['variant'] == 'default' and r['status'] == 'ok'), None)
    rows = [f"{out['device']} · torch {out['torch']} · Res12-{out['width']} bs {out['batch']} · medians of "
            f"{out['repeat']}", '',
            '| variant | step ms | × vs default | first step s | Langevin ms | loss rel diff | grad cosine | check |',
            '|---|---|---|---|---|---|---|---|']
    for r in out['variants']:
        if r['status'] != 'ok':
            rows.append(f"| {r['variant']} | {r['status']} | | | | | | |"); continue
        c, ms = r['check'], r['step']['median_ms']
        rel = f"{base['step']['median_ms'] / ms:.2f}" if base else '–'
        lv = f"{r['langevin']['median_ms']:.3f}" if 'langevin' in r else '–'
        rows.append(f"| {r['variant']} | {ms:.3f} | {rel} | {r['first_step_s']:.1f} | {lv} | {c['loss_rel_diff']:.1e}"
                    f" | {c['grad_cosine']:.6f} | {'ok' if c['passed'] else 'FAILED'} |")
    return '\n'.join(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    ap.add_argument('--width', type=int, default=64); ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--repeat', type=int, default=20)
    ap.add_argument('--langevin-batch', type=int, default=0,
                    help="also time the sampler's x ↦ (E, ∇E) at this batch (e.g. 1024; one more compilation each)")
    ap.add_argument('--only', nargs='+', choices=list(VARIANTS), default=list(VARIANTS))
    ap.add_argument('--budget', type=int, default=240, help='seconds per variant (max_autotune has its own 300)')
    ap.add_argument('--json'); ap.add_argument('--one', choices=list(VARIANTS), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    lb = a.langevin_batch
    if a.one:
        print(json.dumps(run_one(a.one, a.device, a.width, a.batch, a.repeat, lb)))
        return
    only = ['default'] + [n for n in a.only if n != 'default']          # the baseline first: every ratio needs it
    return run_all(only, a.device, a.width, a.batch, a.repeat, lb, a.json, a.budget)


if __name__ == '__main__':
    main()
