"""The code's shape, checked: one Langevin update, sampling without the trainer, short lines, a trainer read in pieces,
notebooks that tell the story in order and link to nothing that does not exist."""
import json, re, subprocess, sys
from pathlib import Path
from conftest import ROOT

LIB = ROOT / 'msdsm'
MODULES = sorted(p for p in LIB.glob('*.py') if p.name != '_modidx.py')


def _code_lines(path: Path):
    "Lines of an exported module, without the `__all__` list nbdev generates (nbdev wraps it, not us)."
    in_all = False
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if line.startswith('__all__'): in_all = True
        if in_all:
            in_all = not line.rstrip().endswith(']')
            continue
        yield i, line


def test_lines_at_most_120_characters():
    long = [f"{p.name}:{i} ({len(l)})" for p in MODULES for i, l in _code_lines(p) if len(l) > 120]
    assert not long, f"lines over 120 characters (edit the notebooks): {long}"


def test_one_langevin_update():
    "x − (ε²/2)∇E + ε√T z is written once (`langevin_update`); every sampler and the benchmark call it."
    pattern = re.compile(r'-\s*0\.5\s*\*\s*[\w.]+\s*\*\*\s*2\s*\*')
    hits = [f"{p.name}:{i}" for p in MODULES for i, l in _code_lines(p) if pattern.search(l)]
    assert hits == [h for h in hits if h.startswith('langevin.py')] and len(hits) == 1, hits
    calls = {p.name for p in MODULES if 'langevin_update(' in p.read_text()}
    assert {'langevin.py', 'bench.py'} <= calls


def test_sampling_imports_no_training_code():
    code = ("import sys, msdsm.io, msdsm.langevin, msdsm.metrics, msdsm.ais, msdsm.ood, msdsm.cli; "
            "bad = [m for m in ('msdsm.train', 'msdsm.bench') if m in sys.modules]; print(bad); assert not bad")
    p = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_trainer_and_benchmark_cells_are_small():
    "Every exported cell of 07_train and 14_bench fits on a screen (≤ 40 lines), so each is read with its example."
    for name in ('07_train', '14_bench'):
        nb = json.loads((ROOT / 'nbs' / f'{name}.ipynb').read_text())
        cells = [''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'code']
        sizes = {c.splitlines()[1][:50]: len(c.splitlines()) for c in cells if c.startswith('#| export')}
        # the run's knobs read best as one list, each field with its meaning: the one cell allowed to be longer
        big = {k: n for k, n in sizes.items() if n > 40 and k != '@dataclass'}
        assert len(sizes) >= 8 and not big, (name, big)


def test_notebooks_tell_the_story_in_order():
    names = [p.stem for p in sorted((ROOT / 'nbs').glob('[0-9][0-9]_*.ipynb'))]
    order = ['core', 'data', 'energy', 'shell', 'dsm', 'langevin', 'io', 'train']
    assert [n.split('_', 1)[1] for n in names][:len(order)] == order, names


def test_no_links_to_a_documentation_site_that_does_not_exist():
    texts = [p.read_text() for p in MODULES] + [(ROOT / 'pyproject.toml').read_text()]
    assert not any('msdsm.github.io' in t for t in texts)
