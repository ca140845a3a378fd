"The commit recorded with a model or a result is msdsm's own, and says when the code differs from it."
import os, shutil, subprocess, sys
from conftest import ROOT

def _commit_seen(lib, env):
    code = 'from msdsm.io import git_commit; print(git_commit())'
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True, cwd=lib,
                          env={**os.environ, 'PYTHONPATH': str(lib), **env}).stdout.strip()

def test_a_copy_inside_another_repository_records_no_foreign_commit(tmp_path):
    proj = tmp_path / 'proj'; lib = proj / 'site-packages'; lib.mkdir(parents=True)
    shutil.copytree(ROOT / 'msdsm', lib / 'msdsm', ignore=shutil.ignore_patterns('__pycache__'))
    git = ['git', '-c', 'user.name=x', '-c', 'user.email=x@x']
    subprocess.run(['git', 'init', '-q'], cwd=proj, check=True)
    subprocess.run([*git, 'add', '-A'], cwd=proj, check=True); subprocess.run([*git, 'commit', '-qm', 'theirs'], cwd=proj, check=True)
    assert _commit_seen(lib, {'MSDSM_COMMIT': 'abc123'}) == 'abc123'
    assert _commit_seen(lib, {'MSDSM_COMMIT': ''}) == 'None'

def test_the_checkout_records_its_commit_and_its_changes(tmp_path):
    clone = tmp_path / 'clone'
    subprocess.run(['git', 'clone', '-q', ROOT, clone], check=True)
    head = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=clone, capture_output=True, text=True).stdout.strip()
    assert _commit_seen(clone, {}) == head
    with open(clone / 'msdsm' / 'dsm.py', 'a') as f: f.write('\n# an edit\n')
    assert _commit_seen(clone, {}) == head + '+changes'

def test_a_new_untracked_profile_counts_as_a_change(tmp_path):
    clone = tmp_path / 'clone'
    subprocess.run(['git', 'clone', '-q', ROOT, clone], check=True)
    head = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=clone, capture_output=True, text=True).stdout.strip()
    shutil.copy(clone / 'profiles' / 'smoke.yaml', clone / 'profiles' / 'mine.yaml')     # not in the commit
    assert _commit_seen(clone, {}) == head + '+changes'

def test_a_changed_shipped_model_counts_as_a_change(tmp_path):
    "Results are made from the shipped model and classifier too: replacing one is not the commit's result."
    clone = tmp_path / 'clone'
    subprocess.run(['git', 'clone', '-q', ROOT, clone], check=True)
    head = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=clone, capture_output=True, text=True).stdout.strip()
    with open(clone / 'models' / 'fmnist-paper' / 'samples-2048.pt', 'ab') as f: f.write(b'\0')
    assert _commit_seen(clone, {}) == head + '+changes'
