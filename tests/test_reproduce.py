"Every experiment notebook runs through the papermill driver at tiny size; a failing notebook fails the driver loudly."
import json, os, shutil
from pathlib import Path
import nbformat, pytest
from conftest import run, MSDSM, needs_fmnist, ROOT
from msdsm.reproduce import list_experiments, reproduce

# parts that cannot run without CIFAR-10, trained models of other data sets or the Inception weights: skipped, named
EXPECTED_PARTIAL = {'cifar10_table': 'msdsm row not measured', 'noise_shell': 'CIFAR-10', 'samples': 'no trained model'}

def _finite(x, path='results'):
    "Every number in a results record is finite (NaN/inf hide failures)."
    import math
    if isinstance(x, dict): return all(_finite(v, f'{path}.{k}') for k, v in x.items())
    if isinstance(x, list): return all(_finite(v, path) for v in x)
    if isinstance(x, float) and not math.isfinite(x): raise AssertionError(f'{path} = {x}')
    return True

@needs_fmnist
@pytest.mark.parametrize('name', list_experiments())
def test_experiment_runs_at_tiny_size(name, tmp_path):
    from PIL import Image
    from msdsm.reproduce import status_of, honesty_problems
    (r,) = reproduce('tiny', only=[name], out_dir=tmp_path, verbose=False)
    rec = json.loads((tmp_path / 'results' / 'tiny' / f'{name}.json').read_text())
    # a tiny budget is never 'ok': the status is what its numbers give, and the run itself must not fail
    assert r.status not in ('failed', 'ok', 'unchecked') and (r.status, r.reasons) == status_of(rec, 'tiny'), (r.status, r.error)
    assert not honesty_problems(rec, r.status), honesty_problems(rec, r.status)
    if name in EXPECTED_PARTIAL: assert any(EXPECTED_PARTIAL[name] in why for why in rec['skipped']), rec['skipped']
    assert rec['profile'] == 'tiny' and rec['headline'] and all(rec['headline'].values()) and _finite(rec)
    assert set(rec['provenance']) == {'machine', 'torch', 'date', 'commit'}
    pngs = [tmp_path / o for o in r.outputs if o.endswith('.png')]
    assert pngs and all(o.startswith(('figures/tiny/', 'results/tiny/')) for o in r.outputs)
    for p in pngs:
        with Image.open(p) as im: assert min(im.size) > 100 and im.getextrema() != ((255, 255),) * len(im.getbands()), p
        assert p.with_suffix('.pdf').stat().st_size > 1000
    nb = nbformat.read(r.notebook, as_version=4)
    assert r.notebook == tmp_path / 'reports' / 'tiny' / f'{name}.ipynb'
    assert any('injected-parameters' in c.metadata.get('tags', []) for c in nb.cells)
    outs = [o for c in nb.cells if c.cell_type == 'code' for o in c.get('outputs', [])]
    assert not [o for o in outs if o.get('output_type') == 'error']
    assert any('image/png' in o.get('data', {}) for o in outs), 'the executed report shows no figure'
    ledger = json.loads((tmp_path / 'reports' / 'ledger.json').read_text())
    assert ledger['tiny'][name]['status'] == r.status and name in (tmp_path / 'reports' / 'README.md').read_text()

@needs_fmnist
def test_a_run_never_touches_another_profile(tmp_path):
    "A tiny (or smoke) run writes only under its own profile's folders: committed paper results stay as they are."
    for d in ('figures/paper', 'results/paper', 'reports/paper'):
        (tmp_path / d).mkdir(parents=True); (tmp_path / d / 'keep.txt').write_text('paper result')
    reproduce('tiny', only=['data_overview'], out_dir=tmp_path, verbose=False)
    for d in ('figures/paper', 'results/paper', 'reports/paper'):
        assert [p.name for p in (tmp_path / d).iterdir()] == ['keep.txt'] and (tmp_path / d / 'keep.txt').read_text() == 'paper result'

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

@needs_fmnist
def test_outputs_linked_to_other_files_leave_those_files_alone(tmp_path):
    "An output tree copied with cp -al / cp -s: a new run replaces the links, never the files they point to."
    victim_nb, victim_md = tmp_path / 'committed.ipynb', tmp_path / 'victim.md'
    shutil.copy(ROOT / 'reports' / 'smoke' / 'data_overview.ipynb', victim_nb)
    from msdsm.reproduce import GENERATED_MARK
    precious = f'{GENERATED_MARK}: a table msdsm wrote, linked in -->\nprecious\n'; victim_md.write_text(precious)
    out = tmp_path / 'out'; (out / 'reports' / 'tiny').mkdir(parents=True); (out / 'results' / 'tiny').mkdir(parents=True)
    (out / 'reports' / 'tiny' / 'data_overview.ipynb').symlink_to(victim_nb)
    (out / 'results' / 'tiny' / 'cifar10_table.md').symlink_to(victim_md)
    victim_c, victim_json = tmp_path / 'committed_c.ipynb', tmp_path / 'committed.json'     # msdsm's, linked in
    shutil.copy(ROOT / 'reports' / 'smoke' / 'cifar10_table.ipynb', victim_c)
    shutil.copy(ROOT / 'results' / 'smoke' / 'cifar10_table.json', victim_json)
    os.link(victim_c, out / 'reports' / 'tiny' / 'cifar10_table.ipynb')
    (out / 'results' / 'tiny' / 'cifar10_table.json').symlink_to(victim_json)
    before = [v.read_bytes() for v in (victim_nb, victim_c, victim_json)]
    reproduce('tiny', only=['data_overview', 'cifar10_table'], out_dir=out, verbose=False)
    assert [v.read_bytes() for v in (victim_nb, victim_c, victim_json)] == before and victim_md.read_text() == precious
    assert not (out / 'reports' / 'tiny' / 'data_overview.ipynb').is_symlink()
    assert 'msdsm' in (out / 'results' / 'tiny' / 'cifar10_table.md').read_text()

def test_results_and_figures_msdsm_did_not_write_are_refused(tmp_path):
    "An --out-dir holding someone's results or figures under an experiment's name: refused before any run."
    from msdsm.reproduce import _check_outputs
    res, fig = tmp_path / 'results' / 'tiny', tmp_path / 'figures' / 'tiny'
    res.mkdir(parents=True); fig.mkdir(parents=True)
    (fig / 'data_overview.pdf').write_text('MY OWN FIGURE')
    with pytest.raises(ValueError, match='data_overview.pdf exists and was not written by msdsm'):
        _check_outputs(['data_overview'], 'tiny', tmp_path, tmp_path / 'reports' / 'tiny', ROOT)
    (res / 'data_overview.json').write_text('{"mine": "hand-made numbers"}')
    with pytest.raises(ValueError, match='data_overview.json exists and was not written by msdsm'):
        _check_outputs(['data_overview'], 'tiny', tmp_path, tmp_path / 'reports' / 'tiny', ROOT)
    (res / 'data_overview.json').write_text('{"provenance": {"machine": "m", "torch": "t", "commit": "c"}}')   # msdsm's
    with pytest.raises(ValueError, match='data_overview.pdf exists and was not written by msdsm'):   # the figure isn't
        _check_outputs(['data_overview'], 'tiny', tmp_path, tmp_path / 'reports' / 'tiny', ROOT)
    (fig / 'data_overview.pdf').unlink()
    _check_outputs(['data_overview'], 'tiny', tmp_path, tmp_path / 'reports' / 'tiny', ROOT)

def test_every_committed_output_may_be_rerun():
    "A clone's `make reproduce` replaces every figure, table, record and executed copy committed here, refusing none."
    from msdsm.reproduce import _check_outputs
    for profile in ('smoke', 'paper'):
        _check_outputs(list_experiments(ROOT), profile, ROOT, ROOT / 'reports' / profile, ROOT)

def test_figures_and_tables_are_replaced_only_by_their_mark(tmp_path):
    "Beside msdsm's own results record, a file of someone else's under a figure's or a table's name is still refused."
    import matplotlib.pyplot as plt
    from msdsm.figures import save_figure
    from msdsm.reproduce import GENERATED_MARK, _check_outputs
    res, fig_dir, runs = tmp_path / 'results' / 'tiny', tmp_path / 'figures' / 'tiny', tmp_path / 'reports' / 'tiny'
    res.mkdir(parents=True); fig_dir.mkdir(parents=True)
    (res / 'cifar10_table.json').write_text('{"provenance": {"machine": "m", "torch": "t", "commit": "c"}}')
    check = lambda: _check_outputs(['cifar10_table'], 'tiny', tmp_path, runs, ROOT)
    (fig_dir / 'cifar10_table.png').write_bytes(b'\x89PNG my own picture')
    with pytest.raises(ValueError, match='cifar10_table.png exists and was not written by msdsm'): check()
    fig = plt.figure(figsize=(2, 2)); fig.savefig(fig_dir / 'cifar10_table.png'); check()   # drawn before the mark
    save_figure(fig, fig_dir / 'cifar10_table'); plt.close(fig)
    (res / 'cifar10_table.json').unlink(); check()          # msdsm's mark: replaced even without a results record
    (res / 'cifar10_table.md').write_text('| my | table |')
    with pytest.raises(ValueError, match='cifar10_table.md exists and was not written by msdsm'): check()
    (res / 'cifar10_table.md').write_text(f'{GENERATED_MARK}: a table -->\n| a | b |'); check()

def test_an_executed_copy_of_a_run_into_another_folder_is_kept(tmp_path):
    "--runs-dir holding the executed copy of a run into another --out-dir: that run's record is not replaced."
    from msdsm.reproduce import _check_outputs
    runs = tmp_path / 'runs'; runs.mkdir()
    def copy_of(out_dir, profile='tiny', where=runs):    # an executed copy, as papermill records it
        pm = dict(input_path=str(ROOT / 'nbs' / 'experiments' / 'data_overview.ipynb'),
                  parameters=dict(profile=profile, out_dir=str(out_dir), device='cpu'))
        where.mkdir(parents=True, exist_ok=True)
        (where / 'data_overview.ipynb').write_text(json.dumps(dict(cells=[], metadata=dict(papermill=pm))))
    for other in ((tmp_path / 'a', 'tiny'), (tmp_path / 'b', 'smoke')):
        copy_of(*other)
        with pytest.raises(ValueError, match='executed copy of a run of data_overview into another --out-dir'):
            _check_outputs(['data_overview'], 'tiny', tmp_path / 'b', runs, ROOT)
    copy_of(tmp_path / 'b'); _check_outputs(['data_overview'], 'tiny', tmp_path / 'b', runs, ROOT)
    # an output folder's own reports/<profile>/ moves with it (a clone): its copies are replaced wherever they ran
    own = tmp_path / 'b' / 'reports' / 'tiny'
    copy_of(tmp_path / 'a', where=own); _check_outputs(['data_overview'], 'tiny', tmp_path / 'b', own, ROOT)

def test_a_foreign_figure_under_any_stem_the_notebook_writes_is_refused(tmp_path):
    "trajectories writes annealing_diagnostics.png too: a user's file of that name is not replaced."
    from msdsm.reproduce import _check_outputs
    (tmp_path / 'figures' / 'smoke').mkdir(parents=True)
    (tmp_path / 'figures' / 'smoke' / 'annealing_diagnostics.png').write_text('mine')
    with pytest.raises(ValueError, match='annealing_diagnostics.png exists and was not written by msdsm'):
        _check_outputs(['trajectories'], 'smoke', tmp_path, tmp_path / 'reports' / 'smoke', ROOT)
