"""Where the MDSM training step spends its time, convolution by convolution.

Two views of one step of the `fmnist-paper` recipe's network (Res12-64, 1×32×32) at each batch size asked for:

1. **Per convolution, by phase (eager).** Every `aten.convolution` / `aten.convolution_backward` call of an eager step
   is timed on its own (CUDA-synchronised on a GPU) and tagged with the phase it belongs to — `forward` (E(x̃)),
   `input gradient` (∇ₓE by autograd.grad, create_graph=True), `double backward` (loss.backward() through it) —
   with its input and weight shapes, strides and memory format.
2. **Per kernel (compiled, as training runs it).** torch.profiler over a few compiled steps (`record_shapes=True`):
   the top device kernels by total time, and the aten ops (with input shapes) that launched the most time.

Run on a GPU (one H100/H200):

    offline/python.sh benchmarks/profile_step.py --device cuda --batch 128 256 --json $OUT/profile.json

and at tiny size on a CPU (what `tests/test_profile_step.py` does):

    python benchmarks/profile_step.py --device cpu --width 8 --batch 8 16 --steps 2 --json /tmp/p.json
"""
import argparse, contextlib, json, sys, time
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

CONV_OPS = {'convolution', 'convolution_backward'}


class ConvTimer(TorchDispatchMode):
    "Times every convolution op (synchronised) and records its shapes, strides, memory format and the current phase."
    def __init__(self, device):
        super().__init__(); self.device, self.phase, self.rows = torch.device(device), 'setup', []

    def _sync(self):
        if self.device.type == 'cuda': torch.cuda.synchronize(self.device)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func._overloadpacket.__name__
        if name not in CONV_OPS: return func(*args, **(kwargs or {}))
        self._sync(); t = time.perf_counter()
        out = func(*args, **(kwargs or {}))
        self._sync(); ms = 1e3 * (time.perf_counter() - t)
        tensors = [a for a in args if isinstance(a, torch.Tensor)][:3]
        fmt = lambda x: ('channels_last' if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)
                         and not x.is_contiguous() else 'contiguous' if x.is_contiguous() else 'strided')
        self.rows.append(dict(phase=self.phase, op=name, ms=ms, shapes=[list(x.shape) for x in tensors],
                              strides=[list(x.stride()) for x in tensors], formats=[fmt(x) for x in tensors],
                              dtype=str(tensors[0].dtype)))
        return out


def recipe_trainer(width, batch, device, run_dir, model=None, **overrides):
    "A Trainer of the `fmnist-paper` recipe on random uint8 images (speed does not depend on the pixels)."
    from msdsm.train import Trainer, make_config
    imgs = torch.randint(0, 256, (max(4 * batch, 512), 1, 32, 32), dtype=torch.uint8)
    cfg = make_config('fmnist-paper', overrides=[dict(width=width, batch_size=batch, iterations=10 ** 6, progress=False,
                                                      device=str(device), out_dir=str(run_dir), sample_every=0,
                                                      **overrides)])
    return Trainer(cfg, images=imgs, model=model)


def eager_breakdown(width, batch, device, run_dir) -> list:
    "Rows of ConvTimer for one eager step, each convolution tagged with its phase."
    from msdsm.dsm import mdsm_loss
    from msdsm.shell import add_noise
    t = recipe_trainer(width, batch, device, run_dir, compile=False)
    t.train_step()                                                   # warm-up (cuDNN algorithm choice)
    x, noise, sig = t._batch()
    timer = ConvTimer(t.device)
    with timer, torch.autocast(t.device.type, dtype=torch.bfloat16, enabled=t.precision == 'bf16'):
        x_noisy = add_noise(x, sig, noise).requires_grad_(True)
        timer.phase = 'forward'
        e = t.model(x_noisy).sum()
        timer.phase = 'input gradient'
        (g,) = torch.autograd.grad(e, x_noisy, create_graph=True)
        loss = ((x - x_noisy) / t.cfg.sigma0 ** 2 + g).pow(2).flatten(1).sum(1).div(sig ** 2).mean()
        timer.phase = 'double backward'
        loss.backward()
    with torch.autocast(t.device.type, dtype=torch.bfloat16, enabled=t.precision == 'bf16'):   # the same loss
        ref = mdsm_loss(t.model, x, sig, t.cfg.sigma0, noise=noise).mean()
    assert torch.allclose(loss.detach().float(), ref.detach().float(), rtol=2e-2 if t.precision == 'bf16' else 1e-5)
    return timer.rows


def compiled_profile(width, batch, device, run_dir, steps=5, top=15) -> dict:
    "Top kernels and aten ops (with input shapes) of a few compiled training steps, as training runs them."
    from torch.profiler import profile, ProfilerActivity
    t = recipe_trainer(width, batch, device, run_dir, compile=True)
    for _ in range(3): t.train_step()
    cuda = t.device.type == 'cuda'
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    if cuda: torch.cuda.synchronize()
    wall = time.perf_counter()
    with profile(activities=acts, record_shapes=True) as prof:
        for _ in range(steps): t.train_step()
        if cuda: torch.cuda.synchronize()
    wall = 1e3 * (time.perf_counter() - wall) / steps
    key = 'self_device_time_total' if cuda else 'self_cpu_time_total'
    kernels = sorted(prof.key_averages(), key=lambda e: -getattr(e, key, 0))
    by_shape = sorted(prof.key_averages(group_by_input_shape=True), key=lambda e: -getattr(e, key, 0))
    row = lambda e: dict(name=e.key[:120], calls=e.count // steps, ms_per_step=getattr(e, key, 0) / 1e3 / steps,
                         shapes=[list(s) for s in (e.input_shapes or []) if s][:3])
    return dict(ms_per_step_wall=wall, device_ms_per_step=sum(getattr(e, key, 0) for e in prof.key_averages()
                                                                if e.device_type.name == ('CUDA' if cuda else 'CPU')
                                                                ) / 1e3 / steps,
                top_kernels=[row(e) for e in kernels[:top]],
                top_ops_by_shape=[row(e) for e in by_shape if e.key.startswith('aten::')][:top])


def table(rows) -> str:
    "Markdown: convolutions ordered by time, with their phase, shapes, strides and memory format."
    lines = ['| phase | op | ms | input shape | weight shape | memory format | input strides |', '|---|---|---|---|---|---|---|']
    for r in sorted(rows, key=lambda r: -r['ms'])[:20]:
        shp = r['shapes'] + [[]] * 3
        lines.append(f"| {r['phase']} | {r['op']} | {r['ms']:.3f} | {shp[0]} | {shp[1] if r['op'] == 'convolution' else shp[2]}"
                     f" | {', '.join(r['formats'])} | {r['strides'][0]} |")
    return '\n'.join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    ap.add_argument('--width', type=int, default=64); ap.add_argument('--batch', type=int, nargs='+', default=[128, 256])
    ap.add_argument('--steps', type=int, default=10); ap.add_argument('--json'); ap.add_argument('--run-dir', default='/tmp/msdsm-profile')
    a = ap.parse_args(argv)
    dev = torch.device(a.device)
    res = dict(device=torch.cuda.get_device_name(dev) if dev.type == 'cuda' else 'cpu', torch=str(torch.__version__),
               width=a.width, cases=[])
    for b in a.batch:
        rows = eager_breakdown(a.width, b, a.device, Path(a.run_dir) / f'eager-{b}')
        by_phase = {p: sum(r['ms'] for r in rows if r['phase'] == p) for p in ('forward', 'input gradient', 'double backward')}
        comp = compiled_profile(a.width, b, a.device, Path(a.run_dir) / f'compiled-{b}', steps=a.steps)
        res['cases'].append(dict(batch=b, convolutions=rows, conv_ms_by_phase=by_phase, compiled=comp))
        print(f"\n## batch {b}: compiled step {comp['ms_per_step_wall']:.2f} ms wall, {comp['device_ms_per_step']:.2f} ms "
              f"device; eager convolution time by phase: " + ', '.join(f"{p} {v:.2f} ms" for p, v in by_phase.items()))
        print(table(rows))
        print('\ntop kernels (compiled step):')
        for k in comp['top_kernels'][:10]: print(f"  {k['ms_per_step']:8.3f} ms  ×{k['calls']:<3d} {k['name']}")
        if a.json: Path(a.json).write_text(json.dumps(res, indent=2))
    return res


if __name__ == '__main__':
    main()
