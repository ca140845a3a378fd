"""The offline kit and the offline reproduction script, at tiny size on the CPU: the script runs experiments with a
profile, packs them in parts of at most PART_SIZE, and `kit.py unpack` puts them in place with the ledger merged."""
import json, sys, tarfile
from pathlib import Path
import pytest
from conftest import run, needs_fmnist, ROOT, FMNIST_DEBIAN

sys.path.insert(0, str(ROOT / 'offline'))
import kit


@needs_fmnist
def test_offline_reproduce_tiny_packs_in_parts_and_unpacks(tmp_path):
    out = tmp_path / 'out'
    run('bash', ROOT / 'offline' / 'reproduce.sh', 'data_overview', 'cifar10_table', timeout=600,
        env={'OUT': str(out), 'PROFILE': 'tiny', 'DATA': str(FMNIST_DEBIAN), 'MSDSM_COMMIT': 'abc123', 'PY': sys.executable,
                                         'PART_SIZE': '64K'})
    files = sorted(out.iterdir())
    packs = [f for f in files if '.tar.gz' in f.name]
    assert len(packs) > 1 and all(f.stat().st_size <= 64 * 2 ** 10 for f in packs), files      # parts, each small
    packs = [f for f in files if '.tar.gz' in f.name]
    root = tmp_path / 'repo'
    (root / 'reports').mkdir(parents=True)
    (root / 'reports' / 'ledger.json').write_text(json.dumps({'smoke': {'ood': {'status': 'ok', 'seconds': 1}}}))
    placed = kit.unpack(packs, root)
    assert 'results/tiny/data_overview.json' in placed and 'reports/tiny/data_overview.ipynb' in placed
    ledger = json.loads((root / 'reports' / 'ledger.json').read_text())
    assert set(ledger) == {'smoke', 'tiny'} and ledger['tiny']['cifar10_table']['status'] == 'not measured'
    assert ledger['tiny']['data_overview']['commit']            # git's here; $MSDSM_COMMIT where the copy has no git
    assert '## Profile `tiny`' in (root / 'reports' / 'README.md').read_text()


def test_kit_resolves_declared_dependencies(tmp_path):
    "The closure walk: a dependency that is neither in the folder nor on the node gets fetched, once."
    import zipfile
    def wheel(name, requires):
        with zipfile.ZipFile(tmp_path / f'{name}-1.0-py3-none-any.whl', 'w') as z:
            z.writestr(f'{name}-1.0.dist-info/METADATA',
                       'Metadata-Version: 2.1\nName: ' + name + '\n' + ''.join(f'Requires-Dist: {r}\n' for r in requires))
    wheel('papermill', ['nbclient', 'numpy', 'pywin32; sys_platform == "win32"', 'black; extra == "black"'])
    fetched = []
    def fetch(names, folder):
        fetched.extend(names)
        for n in names: wheel(n, ['traitlets'] if n == 'nbclient' else [])
    kit.resolve(tmp_path, have={'numpy'}, fetch=fetch)
    assert fetched == ['nbclient', 'traitlets']          # numpy is on the node; win32 and extras do not apply


def test_node_packages_are_read_as_pip_freeze_prints_them(tmp_path):
    (tmp_path / 'have.txt').write_text('# the node\nNumPy==2.1.0\ntyping_extensions>=4\nscipy ; python_version > "3"\n\n')
    assert kit.read_names(tmp_path / 'have.txt') == {'numpy', 'typing-extensions', 'scipy'}
    assert {'torch', 'numpy', 'safetensors'} <= kit.read_names(ROOT / 'offline' / 'node-packages.txt')


def test_usage_errors_are_one_line_and_create_nothing(tmp_path):
    "Bad arguments to the offline tools: a one-line reason, exit 2, no traceback, nothing made."
    kit_py = ROOT / 'offline' / 'kit.py'
    (tmp_path / 'binary').write_bytes(bytes(range(256)))
    cases = [([sys.executable, kit_py, 'resolve', tmp_path / 'nope'], 'is not a folder of wheels'),
             ([sys.executable, kit_py, 'resolve', tmp_path, '--have', tmp_path / 'binary'], "codec can't decode"),
             ([sys.executable, kit_py, 'resolve', tmp_path, '--python', 'abc'], 'give X.Y'),
             ([sys.executable, kit_py, 'unpack', tmp_path / 'none.tar.gz'], 'no such file'),
             ([sys.executable, kit_py, 'unpack', tmp_path / 'binary'], 'error:'),
             (['bash', ROOT / 'offline' / 'reproduce.sh', 'nosuchexp'], 'unknown experiment nosuchexp; known: ablation'),
             (['bash', ROOT / 'offline' / 'reproduce.sh', 'data_overview'], 'PART_SIZE=abc: give a size')]
    for args, text in cases:
        p = run(*args, check=False, env={'OUT': str(tmp_path / 'out'), 'PART_SIZE': 'abc' if 'data_overview' in args else '15M'})
        assert p.returncode == 2 and text in p.stderr and 'Traceback' not in p.stderr, (args, p.returncode, p.stderr)
    assert not (tmp_path / 'nope').exists() and not (tmp_path / 'out').exists()
