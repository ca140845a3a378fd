import os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_MNIST = ROOT.parent / 'shared' / 'data' / 'mnist'
FMNIST_DEBIAN = Path('/usr/share/datasets/fashion-mnist')

def run(*args, timeout=600, env=None, check=True, **kw):
    "Run a command, returning CompletedProcess; fail with its output when `check` and it fails."
    e = {**os.environ, 'MSDSM_OFFLINE': '1', 'PYTHONUNBUFFERED': '1', **(env or {})}
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, env=e, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} exited {p.returncode}\nstdout:\n{p.stdout[-3000:]}\nstderr:\n{p.stderr[-3000:]}")
    return p

MSDSM = [sys.executable, '-m', 'msdsm.cli']

needs_fmnist = pytest.mark.skipif(not (FMNIST_DEBIAN / 'train-images-idx3-ubyte.gz').exists(),
                                  reason='Fashion-MNIST not installed (sudo apt-get install dataset-fashion-mnist)')
