"""What a reader sees when opening a notebook: the concept notebooks are committed executed (outputs, no errors,
small enough to open), and the executed experiment reports under reports/ hold no error either."""
import json
from pathlib import Path
import pytest
from conftest import ROOT

CONCEPT = sorted((ROOT / 'nbs').glob('[0-9][0-9]_*.ipynb'))
REPORTS = sorted((ROOT / 'reports').glob('*/*.ipynb'))
MAX_MB = 2.0


def _outputs(nb):
    return [o for c in nb['cells'] if c['cell_type'] == 'code' for o in c.get('outputs', [])]


@pytest.mark.parametrize('path', CONCEPT + REPORTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_committed_notebook_shows_results_without_errors(path):
    nb = json.loads(path.read_text())
    outs = _outputs(nb)
    errors = [f"{o.get('ename')}: {o.get('evalue')}" for o in outs if o.get('output_type') == 'error']
    errors += [o['text'] if isinstance(o['text'], str) else ''.join(o['text']) for o in outs
               if o.get('output_type') == 'stream' and o.get('name') == 'stderr' and 'Traceback' in ''.join(o['text'])]
    assert not errors, f"{path.name} holds error output: {errors[:2]}"
    assert outs, f"{path.name} has no outputs: a reader opening it sees no result (run `make notebooks`)"
    size = path.stat().st_size / 2 ** 20
    assert size <= MAX_MB, f"{path.name} is {size:.1f} MB (limit {MAX_MB} MB): lower the figure dpi or show less"


def test_every_concept_notebook_is_committed_executed():
    "Each concept notebook shows at least one result (a printed number, a table or a figure)."
    bare = [p.name for p in CONCEPT if not _outputs(json.loads(p.read_text()))]
    assert not bare, f"notebooks without outputs: {bare}"
