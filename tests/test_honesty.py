"""Every committed result says what it is: each headline check has its n, a 95 % interval and a trivial baseline, and
the ledger's status is the one its numbers give (`msdsm.reproduce.honesty_problems`; its planted records are in
nbs/12_reproduce.ipynb). Run over results/<profile>/*.json and reports/ledger.json as committed."""
import json
import pytest
from conftest import ROOT
from msdsm.reproduce import honesty_problems, status_of

FILES = sorted(p for p in (ROOT / 'results').glob('*/*.json'))
LEDGER = json.loads((ROOT / 'reports' / 'ledger.json').read_text()) if (ROOT / 'reports' / 'ledger.json').exists() else {}

def test_there_are_results_to_check():
    assert FILES and LEDGER

@pytest.mark.parametrize('f', FILES, ids=lambda f: f'{f.parent.name}/{f.stem}')
def test_every_result_shows_n_interval_baseline_and_its_true_status(f):
    rec = json.loads(f.read_text())
    entry = LEDGER.get(f.parent.name, {}).get(f.stem)
    assert entry is not None, f"{f} has no ledger row"
    assert not honesty_problems(rec, entry['status'] if entry['status'] != 'failed' else None), honesty_problems(rec, entry['status'])

def test_no_preview_is_called_ok():
    for profile in ('smoke', 'tiny'):
        for name, e in LEDGER.get(profile, {}).items():
            assert e['status'] != 'ok', f"{profile}/{name} is a preview but its ledger row says ok"

def test_a_planted_dishonest_record_fails(tmp_path):
    "One of each: a check without its interval, and status ok beside a result below its baseline."
    rec = json.loads(next(f for f in FILES if json.loads(f.read_text()).get('checks')).read_text())
    c = dict(rec['checks'][0]); c.pop('interval')
    assert honesty_problems(dict(rec, checks=[c]))
    worse = dict(rec['checks'][0], value=rec['checks'][0]['baseline'] - 1 if rec['checks'][0]['better'] == 'higher'
                 else rec['checks'][0]['baseline'] + 1)
    worse['interval'] = [min(worse['interval'][0], worse['value']), max(worse['interval'][1], worse['value'])]
    assert status_of(dict(rec, checks=[worse]))[0] == 'below baseline'
    assert honesty_problems(dict(rec, checks=[worse]), 'ok')
