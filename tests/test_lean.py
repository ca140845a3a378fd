"""A lean install: the library runs with only its runtime dependencies, and work that needs an extra says which.

The optional packages are hidden from a fresh interpreter (marked absent in `sys.modules`), which is what a
`pip install msdsm` without extras gives; the real install of each extra is `make setup`'s `.[all]`."""
import json, subprocess, sys
from conftest import ROOT, needs_fmnist

OPTIONAL = ('torch_fidelity', 'papermill', 'jupyter_client', 'jupyterlab', 'scipy', 'torchvision', 'ipykernel',
            'ipywidgets', 'nbformat', 'nbclient', 'sklearn', 'nbdev', 'IPython', 'seaborn')
HIDE = f"""
import sys
for name in {OPTIONAL!r}: sys.modules[name] = None       # how Python marks a module as absent: imports of it fail
"""
LEAN = ('core', 'data', 'energy', 'shell', 'dsm', 'langevin', 'io', 'train', 'ais', 'ood', 'figures', 'reproduce',
        'cli', 'bench')


def lean(code: str, tmp_path):
    p = subprocess.run([sys.executable, '-c', HIDE + code], capture_output=True, text=True, timeout=600, cwd=tmp_path,
                       env={'PATH': '/usr/bin:/bin', 'HOME': str(tmp_path), 'MSDSM_OFFLINE': '1',
                            'PYTHONPATH': str(ROOT)})
    return p.returncode, p.stdout, p.stderr


def test_every_module_but_metrics_imports_without_extras(tmp_path):
    rc, out, err = lean(f"import importlib, json\nfor m in {LEAN!r}: importlib.import_module('msdsm.' + m)\n"
                        "import msdsm.metrics", tmp_path)
    assert rc == 1 and "msdsm.metrics (FID, KID, IS, precision and recall) needs torch_fidelity" in err, err[-2000:]
    assert "pip install 'msdsm[metrics]'" in err and 'msdsm.' + LEAN[-1] not in err


@needs_fmnist
def test_train_resume_and_sample_without_extras_and_a_named_extra_for_the_rest(tmp_path):
    code = """
import msdsm.cli, sys
def run(*argv):
    try: msdsm.cli.main([str(a) for a in argv]); return 0
    except SystemExit as e: return e.code
print('EXIT', run('train', '--recipe', 'fmnist-paper', 'width=8', 'batch_size=16', 'device=cpu', 'progress=false',
          'sample_every=0', 'iterations=3', 'out_dir=run'))
print('EXIT', run('train', '--resume', 'run', 'iterations=4'))
print('EXIT', run('sample', 'run', '--n', '4', '--steps', '5', '--out', 'grid.png', '--quiet'))
print('EXIT', run('evaluate', 'grid.pt', '--metrics', 'isc'))
print('EXIT', run('reproduce', '--profile', 'tiny', '--only', 'data_overview', '--out-dir', 'rep'))
"""
    rc, out, err = lean(code, tmp_path)
    codes = [l.split()[1] for l in out.splitlines() if l.startswith('EXIT ')]
    assert rc == 0 and codes == ['0', '0', '0', '2', '2'], (out, err[-3000:])
    assert (tmp_path / 'run' / 'energy' / 'energy.json').is_file() and (tmp_path / 'grid.png').is_file()
    assert "msdsm evaluate: error: msdsm.metrics (FID, KID, IS, precision and recall) needs torch_fidelity" in err
    assert "msdsm reproduce: error: msdsm reproduce (running notebooks) needs" in err and "'msdsm[reproduce]'" in err
    assert 'Traceback' not in err, err[-3000:]
