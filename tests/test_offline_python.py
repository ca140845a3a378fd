"""offline/python.sh, the Python msdsm's scripts run under on a compute node without network: msdsm importable with
fastcore and pyyaml, and a clear refusal when they are missing and no offline kit was copied there."""
import sys
from conftest import run, ROOT

SCRIPT = ROOT / 'offline' / 'python.sh'


def test_runs_python_with_msdsm_importable(tmp_path):
    "From anywhere: run in the repository root, with it on PYTHONPATH and offline (the node has no network)."
    p = run('bash', SCRIPT, '-c', 'import msdsm.train, os; e = os.environ; '
            'print(os.getcwd(), e["PYTHONPATH"].split(os.pathsep)[0], e["MSDSM_OFFLINE"])',
            env=dict(PY=sys.executable, MSDSM_OFFLINE='', PYTHONPATH=''), cwd=tmp_path)
    assert p.stdout.split() == [str(ROOT), str(ROOT), '1'], p.stdout


def test_missing_packages_without_a_kit_is_refused(tmp_path):
    fake = tmp_path / 'python'                      # a Python that lacks fastcore (its import check fails)
    fake.write_text('#!/bin/sh\nexit 1\n'); fake.chmod(0o755)
    p = run('bash', SCRIPT, '-c', 'print(1)', check=False,
            env=dict(PY=str(fake), KIT=str(tmp_path / 'no-kit'), VENV=str(tmp_path / 'no-venv')))
    assert p.returncode == 2 and "run 'make offline-kit' where pip works and copy" in p.stderr, (p.returncode, p.stderr)
