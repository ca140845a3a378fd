"Every experiment notebook runs through the papermill driver at tiny size; a failing notebook fails the driver loudly."
import json, shutil
from pathlib import Path
import nbformat, pytest
from conftest import run, MSDSM, needs_fmnist, ROOT
from msdsm.reproduce import list_experiments, reproduce

@needs_fmnist
@pytest.mark.parametrize('name', list_experiments())
def test_experiment_runs_at_tiny_size(name, tmp_path):
    (r,) = reproduce('tiny', only=[name], out_dir=tmp_path, runs_dir=tmp_path / 'runs', verbose=False)
    assert r.status == 'ok', r.error
    assert (tmp_path / 'results' / f'{name}.json').exists()
    assert any(o.startswith('figures/') and o.endswith('.png') for o in r.outputs) and any(o.endswith('.pdf') for o in r.outputs)
    nb = nbformat.read(r.notebook, as_version=4)
    assert any('injected-parameters' in c.metadata.get('tags', []) for c in nb.cells)

def test_failing_notebook_names_cell_and_error(tmp_path):
    root = tmp_path / 'repo'
    (root / 'nbs' / 'experiments').mkdir(parents=True); shutil.copytree(ROOT / 'profiles', root / 'profiles')
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('profile = "smoke"\ndevice = "auto"\nout_dir = None', metadata={'tags': ['parameters']}),
                                         nbformat.v4.new_code_cell('x = 1'), nbformat.v4.new_code_cell('raise ValueError("planted failure")')])
    nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'python3', 'language': 'python'}
    nbformat.write(nb, root / 'nbs' / 'experiments' / 'broken.ipynb')
    (r,) = reproduce('smoke', root=root, out_dir=tmp_path / 'out', runs_dir=tmp_path / 'runs', verbose=False)
    assert r.status == 'failed' and 'broken.ipynb' in r.error and 'cell 3 of the executed notebook' in r.error and 'starts `raise ValueError' in r.error and 'planted failure' in r.error
    p = run(sys_exe := __import__('sys').executable, '-c',
            f'from msdsm.cli import main; import msdsm.reproduce as R; R.project_root = lambda root=None: __import__("pathlib").Path({str(root)!r}); main(["reproduce", "--profile", "smoke", "--out-dir", {str(tmp_path / "o2")!r}, "--runs-dir", {str(tmp_path / "r2")!r}])',
            check=False)
    assert p.returncode == 1 and 'broken' in p.stderr and 'planted failure' in p.stderr and 'cell 3' in p.stderr
