"""JupyterLab, the readers' client, driven in a real headless Chromium (Debian's package) through Playwright: a concept
notebook runs through the UI (menu, not the API) in the project's environment, without errors and with its figures;
an executed report shows its figures. Screenshots go to runs/lab/ for a person to look at."""
import json, os, secrets, shutil, socket, subprocess, sys, time, urllib.request
from pathlib import Path
import pytest
from conftest import ROOT, needs_fmnist

CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
SHOTS = ROOT / 'runs' / 'lab'
VENV_PYTHON = Path(sys.executable)
CONCEPT = 'nbs/03_shell.ipynb'                # a short one: the UI, not the compute, is under test
REPORT = 'reports/smoke/samples.ipynb'
PANEL = '.jp-NotebookPanel:not(.lm-mod-hidden)'       # the notebook on screen (another may be open behind it)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason='NO BROWSER: Debian chromium is not installed and this run could not install it '
                             '(`make data` installs it when run as root with apt); the JupyterLab test did NOT run')


def _free_port():
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    "A JupyterLab server on the repository, started as `make lab` does, with a token; stopped afterwards."
    port, token = _free_port(), secrets.token_hex(16)
    # The server's (and its kernels') log goes to a file: an unread pipe fills up and blocks the server mid-run.
    log_path = tmp_path_factory.mktemp('lab-log') / 'jupyter.log'
    log = open(log_path, 'wb')
    settings = tmp_path_factory.mktemp('lab-settings')           # no autosave: the test must not rewrite nbs/
    for plugin, value in (('docmanager-extension/plugin', {'autosave': False}),
                          ('apputils-extension/notification', {'fetchNews': 'false'}),
                          ('notebook-extension/tracker', {'windowingMode': 'none'})):   # render every cell
        f = settings / '@jupyterlab' / f'{plugin}.jupyterlab-settings'
        f.parent.mkdir(parents=True, exist_ok=True); f.write_text(json.dumps(value))
    env = {**os.environ, 'PATH': f"{VENV_PYTHON.parent}:{os.environ['PATH']}", 'MSDSM_OFFLINE': '1'}
    p = subprocess.Popen([str(VENV_PYTHON.parent / 'jupyter'), 'lab', '--no-browser', f'--port={port}',
                          f'--ServerApp.token={token}', f'--ServerApp.root_dir={ROOT}', '--ServerApp.ip=127.0.0.1',
                          '--LabApp.news_url=', '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate',
                          f'--LabApp.user_settings_dir={settings}', f'--LabApp.workspaces_dir={settings}']
                         + (['--allow-root'] if os.geteuid() == 0 else []),
                         env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f'http://127.0.0.1:{port}'
    up = False
    for _ in range(120):
        if p.poll() is not None: break
        try: urllib.request.urlopen(f'{url}/api/status?token={token}', timeout=1); up = True; break
        except OSError: time.sleep(0.5)
    if not up:
        p.kill(); pytest.fail(f'JupyterLab did not start: {log_path.read_text(errors="replace")[-2000:]}')
    yield url, token, log_path
    p.terminate(); p.wait(timeout=30); log.close()
    print(f'JupyterLab log ({log_path.stat().st_size} bytes): {log_path}')


@pytest.fixture(scope='module')
def page():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
            '--disable-component-update', '--disable-sync'])
        pg = browser.new_page(viewport={'width': 1400, 'height': 1000})
        pg.console = []                                      # the page's console, for a failure report
        pg.on('console', lambda m: pg.console.append(f'{m.type}: {m.text}'))
        yield pg
        browser.close()


def _api(lab, path):
    url, token, _ = lab
    return json.loads(urllib.request.urlopen(f'{url}{path}?token={token}', timeout=10).read())


def _wait_for_settled_kernel(lab, page, path, timeout=120, settle=3.0):
    """Wait until the notebook's session has one kernel, idle and unchanged for `settle` seconds, and the page shows it
    idle. On a first start JupyterLab may start a kernel and replace it a moment later (seen in CI: the cells of a Run
    All clicked in between went to the replaced kernel and never ran); a reader's click comes later than that."""
    t0, last, since = time.time(), None, time.time()
    while time.time() - t0 < timeout:
        ks = [s['kernel'] for s in _api(lab, '/api/sessions') if s['path'].endswith(path.split('/')[-1])]
        now = (ks[0]['id'], ks[0]['execution_state']) if len(ks) == 1 else None
        if now != last: last, since = now, time.time()
        ui_idle = page.evaluate(
            "() => document.querySelector('.jp-Notebook-ExecutionIndicator')?.dataset.status === 'idle'")
        if now and now[1] == 'idle' and ui_idle and time.time() - since >= settle: return now[0]
        time.sleep(0.25)
    pytest.fail(f'the kernel of {path} did not settle idle within {timeout} s: sessions {_api(lab, "/api/sessions")}')


def _wait_until_run(page, n_code, timeout, log):
    """Wait until every code cell shows an execution count; fail at once, with the traceback, when a cell raises
    (Run All stops there, so waiting longer would only time out)."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        state = page.evaluate(f"""() => {{
            const p = [...document.querySelectorAll('{PANEL} .jp-CodeCell .jp-InputPrompt')].map(e => e.textContent);
            const err = [...document.querySelectorAll('{PANEL} .jp-OutputArea-output')]
                .map(e => e.innerText).filter(t => t.includes('Traceback') || /\\w+Error:/.test(t));
            return {{done: p.length === {n_code} && p.every(t => /\\[\\d+\\]/.test(t)), err, prompts: p}};
        }}""")
        if state['err'] or state['done']: break
        time.sleep(1)
    else:
        state['timeout'] = True
    if state['err'] or not state['done']:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / 'concept-notebook-failed.png'), full_page=False)
        why = f'timed out after {timeout} s' if 'timeout' in state else 'a cell raised'
        pytest.fail(f"the notebook did not run through in JupyterLab ({why});"
                    f" prompts {state['prompts']}; errors: {[t[-1500:] for t in state['err']]}; screenshot "
                    f"{SHOTS / 'concept-notebook-failed.png'}; the browser console ends:\n"
                    + '\n'.join(page.console[-30:]) + "\nthe server's log ends:\n"
                    f"{log.read_text(errors='replace')[-3000:]}")


@needs_fmnist
def test_concept_notebook_runs_through_the_ui(lab, page):
    url, token, _ = lab
    nb = json.loads((ROOT / CONCEPT).read_text())
    n_code = sum(c['cell_type'] == 'code' for c in nb['cells'])
    page.goto(f'{url}/lab/tree/{CONCEPT}?token={token}')
    page.wait_for_selector('.jp-Notebook .jp-Cell', timeout=60_000)
    _wait_for_settled_kernel(lab, page, CONCEPT)
    t0 = time.time()
    page.locator('.lm-MenuBar-itemLabel', has_text='Run').first.click()              # the menu, as a reader does
    page.locator('.lm-Menu-itemLabel', has_text='Run All Cells').first.click()
    _wait_until_run(page, n_code, timeout=600, log=lab[2])
    page.wait_for_function("() => document.querySelector('.jp-Notebook-ExecutionIndicator')?.dataset.status === 'idle'",
                           timeout=120_000)
    seconds = time.time() - t0
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(f'{PANEL} .jp-OutputArea-output img').first.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / 'concept-notebook.png'), full_page=False)
    outputs = page.locator(f'{PANEL} .jp-OutputArea-output').all_inner_texts()
    assert not [t for t in outputs if 'Traceback' in t or 'Error:' in t], [t[:300] for t in outputs if 'Traceback' in t]
    imgs = page.locator(f'{PANEL} .jp-OutputArea-output img')
    assert imgs.count() >= 1 and imgs.first.evaluate('e => e.naturalWidth') > 100, 'no rendered figure'
    # the kernel that ran it is the project's environment
    sessions = [s for s in _api(lab, '/api/sessions') if s['path'].endswith(CONCEPT.split('/')[-1])]
    spec = _api(lab, '/api/kernelspecs')['kernelspecs'][sessions[0]['kernel']['name']]['spec']
    assert Path(spec['argv'][0]).resolve() == VENV_PYTHON.resolve(), spec['argv']
    print(f"ran {n_code} cells through the UI in {seconds:.0f} s; screenshot {SHOTS / 'concept-notebook.png'}")


def test_executed_report_shows_its_figures(lab, page):
    url, token, _ = lab
    path = ROOT / REPORT
    if not path.exists(): pytest.fail(f'{REPORT} is not committed: run `make reproduce`')
    nb = json.loads(path.read_text())
    n_images = sum('image/png' in o.get('data', {}) for c in nb['cells'] for o in c.get('outputs', []))
    page.goto(f'{url}/lab/tree/{REPORT}?token={token}')
    page.wait_for_selector(f'{PANEL} .jp-OutputArea-output img', state='attached', timeout=60_000)
    page.wait_for_function(f"() => [...document.querySelectorAll('{PANEL} .jp-OutputArea-output img')]"
                           f".filter(i => i.complete && i.naturalWidth > 0).length >= {n_images}", timeout=60_000)
    assert page.locator(f'{PANEL} .jp-OutputArea-output img').count() == n_images > 0
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(f'{PANEL} .jp-OutputArea-output img').first.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / 'report-notebook.png'), full_page=False)
