"""The carry kit: wheels the GPU machine lacks, for Python 3.12 on manylinux x86_64, with their dependencies.

The GPU machine starts bare with torch 2.11, numpy, scipy, matplotlib, safetensors and tqdm (and what those need); it
has no network. `make gpu-kit` downloads the packages msdsm's reproduction needs there (papermill, a Jupyter kernel,
torch-fidelity, …) with `--no-deps`, then this script walks their declared dependencies (`Requires-Dist`, markers
evaluated for CPython 3.12 on Linux) and downloads whatever is missing, skipping what the machine already has.

    python benchmarks/gpu_kit.py resolve .gpu-kit      # complete the folder (needs PyPI)
    python benchmarks/gpu_kit.py list .gpu-kit         # what is in it
    python benchmarks/gpu_kit.py unpack FILES…          # results of benchmarks/gpu_reproduce.sh, into the checkout
"""
import re, subprocess, sys, zipfile
from email.parser import Parser
from pathlib import Path

# importable on the GPU machine already (DEVELOPERS.md: torch 2.11, numpy, scipy, matplotlib, safetensors, tqdm)
ON_MACHINE = {'torch', 'numpy', 'scipy', 'matplotlib', 'safetensors', 'tqdm', 'pillow', 'packaging', 'pyparsing',
              'cycler', 'kiwisolver', 'fonttools', 'contourpy', 'python-dateutil', 'six', 'filelock', 'typing-extensions',
              'sympy', 'mpmath', 'networkx', 'jinja2', 'markupsafe', 'fsspec', 'setuptools', 'triton'}
ON_MACHINE |= {n for n in ('nvidia-cublas-cu12', 'nvidia-cudnn-cu12')}           # torch's own CUDA wheels
# torch-fidelity needs torchvision; the one built for torch 2.11
PINS = {'torchvision': 'torchvision==0.26.*'}
ENV = dict(python_version='3.12', python_full_version='3.12.3', sys_platform='linux', platform_system='Linux',
           os_name='posix', platform_machine='x86_64', implementation_name='cpython',
           platform_python_implementation='CPython', extra='')


def canonical(name: str) -> str: return re.sub(r'[-_.]+', '-', name).lower()


def requirements(wheel: Path) -> list:
    "The (name, marker) pairs a wheel declares."
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith('.dist-info/METADATA'))
        msg = Parser().parsestr(z.read(meta).decode())
    out = []
    for r in msg.get_all('Requires-Dist') or []:
        spec, _, marker = r.partition(';')
        name = re.match(r'\s*([A-Za-z0-9_.\-]+)', spec)[1]
        out.append((canonical(name), marker.strip()))
    return out


def applies(marker: str) -> bool:
    "Does an environment marker hold on the GPU machine (CPython 3.12, Linux x86_64, no extras)?"
    if not marker: return True
    from packaging.markers import Marker
    return Marker(marker).evaluate(ENV)


def missing(folder: Path, have=ON_MACHINE) -> set:
    "Dependencies of the wheels in `folder` that are neither in it nor on the machine."
    present = {canonical(w.name.split('-')[0]) for w in folder.glob('*.whl')}
    need = {n for w in folder.glob('*.whl') for n, m in requirements(w) if applies(m)}
    return need - present - {canonical(h) for h in have}


def resolve(folder: Path, fetch=None, rounds: int = 20) -> list:
    "Download missing dependencies until none are left; returns the names fetched. `fetch(names, folder)` downloads."
    fetch = fetch or _pip_download
    got = []
    for _ in range(rounds):
        todo = sorted(missing(folder))
        if not todo: return got
        fetch(todo, folder); got += todo
    raise RuntimeError(f"dependencies still missing after {rounds} rounds: {sorted(missing(folder))}")


def _pip_download(names, folder: Path):
    specs = [PINS.get(n, n) for n in names]
    subprocess.run([sys.executable, '-m', 'pip', 'download', '-q', '-d', str(folder), '--no-deps', '--only-binary=:all:',
                    '--python-version', '3.12', '--implementation', 'cp', '--platform', 'manylinux2014_x86_64',
                    '--platform', 'manylinux_2_17_x86_64', '--platform', 'manylinux_2_28_x86_64', '--platform', 'any',
                    *specs], check=True)


def unpack(files, root: Path) -> list:
    "Put what gpu_reproduce.sh packed (a .tar.gz or its .partNN pieces) into `root`, merging reports/ledger.json."
    import io, json, tarfile
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from msdsm.reproduce import ledger_markdown
    files = sorted(Path(f) for f in files)
    data = b''.join(f.read_bytes() for f in files)
    ledger_f = root / 'reports' / 'ledger.json'
    ledger = json.loads(ledger_f.read_text()) if ledger_f.exists() else {}
    placed = []
    with tarfile.open(fileobj=io.BytesIO(data), mode='r:gz') as tar:
        for m in tar.getmembers():
            if not m.isfile() or m.name.startswith('/') or '..' in Path(m.name).parts: continue
            if m.name == 'reports/README.md': continue                      # regenerated from the merged ledger
            content = tar.extractfile(m).read()
            if m.name == 'reports/ledger.json':
                for prof, runs in json.loads(content).items(): ledger.setdefault(prof, {}).update(runs)
                continue
            dst = root / m.name; dst.parent.mkdir(parents=True, exist_ok=True); dst.write_bytes(content)
            placed.append(m.name)
    ledger_f.parent.mkdir(parents=True, exist_ok=True)
    ledger_f.write_text(json.dumps(ledger, indent=2)); (root / 'reports' / 'README.md').write_text(ledger_markdown(ledger))
    return placed


if __name__ == '__main__':
    cmd, folder = sys.argv[1], Path(sys.argv[2])
    if cmd == 'resolve':
        if not any(folder.glob('torchvision-*.whl')): _pip_download(['torchvision'], folder)
        print(f"fetched dependencies: {', '.join(resolve(folder)) or 'none'}")
    elif cmd == 'list':
        for w in sorted(folder.glob('*.whl')): print(w.name)
    elif cmd == 'unpack':                       # python benchmarks/gpu_kit.py unpack FILE [FILE…] [--root DIR]
        args = sys.argv[2:]
        root = Path(args[args.index('--root') + 1]) if '--root' in args else Path(__file__).resolve().parent.parent
        files = [a for i, a in enumerate(args) if a != '--root' and (i == 0 or args[i - 1] != '--root')]
        for name in unpack(files, root): print(name)
