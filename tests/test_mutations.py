"""Checks that can fail: plant the bug each core check guards against — in a scratch copy of the notebook that
defines the code — run that notebook's examples-as-tests, and see them fail. A mutation that survives is a missing
test. (The unmutated notebooks pass: `make test` runs them first.)"""
import json, shutil, subprocess, sys, uuid
from pathlib import Path
import pytest
from conftest import ROOT, needs_fmnist

# (notebook, code as written, the planted bug, what it breaks)
MUTATIONS = [
    ('03_shell', 'return x + (s.reshape(-1, *[1] * (x.ndim - 1)) if s.ndim else s) * noise',
                 'return x + (s.reshape(-1, *[1] * (x.ndim - 1)) if s.ndim else s) ** 2 * noise', 'σ² instead of σ in the corruption'),
    ('04_dsm', 'r = (x - x_noisy) / sigma0 ** 2 + grad_x(energy, x_noisy, functional)',
               'r = (x_noisy - x) / sigma0 ** 2 + grad_x(energy, x_noisy, functional)', 'sign of the DSM target flipped'),
    ('04_dsm', 'return r.pow(2).flatten(1).sum(1) / s ** 2', 'return r.pow(2).flatten(1).sum(1) / s', 'MDSM weight 1/σ² weakened to 1/σ'),
    ('05_langevin', 'return x - 0.5 * step_size ** 2 * grad + step_size * sqrt_temperature * noise',
                    'return x - step_size ** 2 * grad + step_size * sqrt_temperature * noise', 'Langevin drift without ½'),
    ('05_langevin', 'return x - 0.5 * step_size ** 2 * grad + step_size * sqrt_temperature * noise',
                    'return x - 0.5 * step_size ** 2 * grad + step_size * sqrt_temperature ** 2 * noise', 'noise scaled by T, not √T'),
    ('05_langevin', "return x.detach() - sigma0 ** 2 * energy_and_grad(energy, x)[1]",
                    "return x.detach() + sigma0 ** 2 * energy_and_grad(energy, x)[1]", 'denoising jump uphill'),
    ('15_restore', "x = op.prox(langevin_update(x, g, _randn_like(x, generator), step_size, sqrt_t[k]), y, c)",
                   "x = langevin_update(x, g, _randn_like(x, generator), step_size, sqrt_t[k])",
                   'inpainting ignores the observed pixels'),
    ('08_ais', 'lw += (-(b - b_prev) * (e - e0)).double()', 'lw += ((b - b_prev) * (e - e0)).double()', 'AIS weight sign flipped'),
    ('08_ais', 'log_z = log_z0 + lme if not reverse else log_z0 - lme', 'log_z = lme if not reverse else log_z0 - lme',
               'reference normaliser lost'),
    ('10_ood', "out[f'score@{s}'][i:i + len(xb)] += s * grad.flatten(1).double().norm(dim=1).cpu() / draws",
               "out[f'score@{s}'][i:i + len(xb)] += grad.flatten(1).double().norm(dim=1).cpu() / draws", 'σ dropped from σ·‖s‖'),
    ('09_metrics', "    if a - tol * (b - a) <= lo and hi <= b + tol * (b - a): return ((x - a) / (b - a)).clamp(0, 1)",
                   "    return ((x - a) / (b - a)).clamp(0, 1)", 'out-of-range samples clamped silently'),
]


def _mutant(nb_name: str, old: str, new: str, folder: Path) -> Path:
    nb = json.loads((ROOT / 'nbs' / f'{nb_name}.ipynb').read_text())
    hits = [c for c in nb['cells'] if c['cell_type'] == 'code' and old in ''.join(c['source'])]
    assert len(hits) == 1, f"{nb_name}: the code to mutate is not found exactly once (was it edited?): {old}"
    src = ''.join(hits[0]['source']).replace(old, new)
    hits[0]['source'] = src.splitlines(keepends=True)
    out = folder / f'{nb_name}.ipynb'; out.write_text(json.dumps(nb)); return out


@needs_fmnist
@pytest.mark.parametrize('nb_name,old,new,what', MUTATIONS, ids=[m[3] for m in MUTATIONS])
def test_planted_bug_fails_the_notebook(nb_name, old, new, what):
    folder = ROOT / 'nbs' / '.mutants' / uuid.uuid4().hex[:8]       # inside nbs/: the notebooks' settings apply
    folder.mkdir(parents=True)
    try:
        path = _mutant(nb_name, old, new, folder)
        code = ("import sys; from nbdev.test import test_nb; "
                "ok, _ = test_nb(sys.argv[1], skip_flags=['slow', 'gpu'], showerr=True); sys.exit(0 if ok else 1)")
        p = subprocess.run([sys.executable, '-c', code, str(path)], capture_output=True, text=True, timeout=600)
        failing = next((l for l in p.stderr.splitlines()[::-1] if 'Error' in l), p.stderr[-300:])
        print(f"{what}: {nb_name} → {failing.strip()[:200]}")
        assert p.returncode != 0, f"the planted bug ({what}) survived every check in {nb_name}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        try: (ROOT / 'nbs' / '.mutants').rmdir()     # only when empty: another test may hold a mutant there
        except OSError: pass
