"""The offline kit: a wheelhouse of what msdsm needs beyond a compute node's own packages, built where pip works.

A compute node without network cannot `pip install`. Here, with network: `make offline-kit` downloads the packages
msdsm's reproduction needs (papermill, a Jupyter kernel, torch-fidelity, …) for the node's Python and platform
(CPython 3.12, manylinux x86_64 unless told otherwise) with `--no-deps`, then this script walks their declared
dependencies (`Requires-Dist`, markers evaluated for that Python on Linux) and downloads whatever is missing, skipping
what the node already has (`node-packages.txt`, or `--have FILE`). Copy the folder to the node; `offline/python.sh`
installs from it there without network.

    python offline/kit.py resolve .offline-kit [--have FILE] [--python 3.12]   # complete the folder (needs PyPI)
    python offline/kit.py list .offline-kit                                    # what is in it
    python offline/kit.py unpack FILES… [--root DIR]   # results of offline/reproduce.sh, into this checkout
"""
import re, subprocess, sys, zipfile
from email.parser import Parser
from pathlib import Path

HERE = Path(__file__).resolve().parent


def read_names(path: Path) -> set:
    "Distribution names, one per line (`name==version` as pip freeze prints them is fine); `#` starts a comment."
    names = (l.split('#')[0].strip() for l in Path(path).read_text().splitlines())
    return {canonical(re.split(r'[=<>!~ ;\[]', n)[0]) for n in names if n}


# torch-fidelity needs torchvision: the one built for the node's torch (2.11)
PINS = {'torchvision': 'torchvision==0.26.*'}
PYTHON = '3.12'


def environment(python: str = PYTHON) -> dict:
    "The marker environment of the node: CPython `python` on Linux x86_64, no extras."
    return dict(python_version=python, python_full_version=f'{python}.0', sys_platform='linux', platform_system='Linux',
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


def applies(marker: str, python: str = PYTHON) -> bool:
    "Does an environment marker hold on the node (CPython `python`, Linux x86_64, no extras)?"
    if not marker: return True
    from packaging.markers import Marker
    return Marker(marker).evaluate(environment(python))


def missing(folder: Path, have: set, python: str = PYTHON) -> set:
    "Dependencies of the wheels in `folder` that are neither in it nor on the node (`have`)."
    present = {canonical(w.name.split('-')[0]) for w in folder.glob('*.whl')}
    need = {n for w in folder.glob('*.whl') for n, m in requirements(w) if applies(m, python)}
    return need - present - {canonical(h) for h in have}


def resolve(folder: Path, have: set | None = None, fetch=None, rounds: int = 20, python: str = PYTHON) -> list:
    "Download missing dependencies until none are left; returns the names fetched. `fetch(names, folder)` downloads."
    have = read_names(HERE / 'node-packages.txt') if have is None else have
    fetch = fetch or (lambda names, folder: _pip_download(names, folder, python))
    got = []
    for _ in range(rounds):
        todo = sorted(missing(folder, have, python))
        if not todo: return got
        fetch(todo, folder); got += todo
    raise RuntimeError(f"dependencies still missing after {rounds} rounds: {sorted(missing(folder, have, python))}")


def _pip_download(names, folder: Path, python: str = PYTHON):
    specs = [PINS.get(n, n) for n in names]
    subprocess.run([sys.executable, '-m', 'pip', 'download', '-q', '-d', str(folder), '--no-deps', '--only-binary=:all:',
                    '--python-version', python, '--implementation', 'cp', '--platform', 'manylinux2014_x86_64',
                    '--platform', 'manylinux_2_17_x86_64', '--platform', 'manylinux_2_28_x86_64', '--platform', 'any',
                    *specs], check=True)


def unpack(files, root: Path) -> list:
    "Put what offline/reproduce.sh packed (a .tar.gz or its .partNN pieces) into `root`, merging reports/ledger.json."
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


def main(argv=None) -> int:
    "The command line: resolve | list | unpack; a usage error or an unreadable input is one line and exit 2."
    import argparse, tarfile
    ap = argparse.ArgumentParser(prog='offline/kit.py', description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest='cmd', required=True)
    r = sub.add_parser('resolve', help='complete a wheel folder with the dependencies the node lacks (needs PyPI)')
    r.add_argument('folder', type=Path); r.add_argument('--have', type=Path, help='packages the node has (pip freeze)')
    r.add_argument('--python', default=PYTHON, help=f"the node's Python, X.Y (default {PYTHON})")
    sub.add_parser('list', help='the wheels in a folder').add_argument('folder', type=Path)
    u = sub.add_parser('unpack', help='results packed by offline/reproduce.sh, into a checkout')
    u.add_argument('files', nargs='+', type=Path); u.add_argument('--root', type=Path, default=HERE.parent)
    a = ap.parse_args(argv)
    try:
        if a.cmd in ('resolve', 'list') and not a.folder.is_dir():
            raise ValueError(f"{a.folder} is not a folder of wheels: `make offline-kit` creates and fills one")
        if a.cmd == 'resolve':
            if not re.fullmatch(r'3\.\d{1,2}', a.python): raise ValueError(f"--python {a.python!r}: give X.Y, e.g. 3.12")
            have = read_names(a.have or HERE / 'node-packages.txt')
            if not any(a.folder.glob('torchvision-*.whl')): _pip_download(['torchvision'], a.folder, a.python)
            print(f"fetched dependencies: {', '.join(resolve(a.folder, have, python=a.python)) or 'none'}")
        elif a.cmd == 'list':
            for w in sorted(a.folder.glob('*.whl')): print(w.name)
        else:
            missing = [str(f) for f in a.files if not f.is_file()]
            if missing: raise ValueError(f"no such file: {', '.join(missing)}")
            for name in unpack(a.files, a.root): print(name)
    except (ValueError, OSError, UnicodeDecodeError, tarfile.TarError, EOFError, subprocess.CalledProcessError) as e:
        print(f"offline/kit.py {a.cmd}: error: {e}", file=sys.stderr); return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
