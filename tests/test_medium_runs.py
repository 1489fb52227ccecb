"""The committed medium runs (`nbs/data/NAME-medium/`), read as a reviewer would: each is the `medium` preset of today's
code with every task finished, its provenance recorded, its summary readable with the experiment's own row type, and
with the repeats or problems that its chapter's claims table rests on. The runs themselves take hours and are not part
of CI; these checks read what they left."""
import json
from pathlib import Path

import pytest

from gss_nbdev.experiments.harness import plan, read_rows

DATA = Path(__file__).resolve().parents[1] / 'nbs' / 'data'
RUNS = sorted(p for p in DATA.glob('*-medium') if (p / 'config.json').exists())
# what each chapter's claims need from a run: (column, least value) on every row of a method that is not 'none'
NEEDS = {'cryoet': [('repeats', 10)], 'teapot': [('problems', 128)], 'sorting': [], 'warcraft': []}


def test_some_medium_run_is_committed():
    assert RUNS, f'no medium run under {DATA}'


@pytest.mark.parametrize('folder', RUNS, ids=lambda p: p.name)
def test_the_run_is_todays_medium_preset_and_finished(folder):
    meta = json.loads((folder / 'config.json').read_text())
    name = meta['experiment']
    assert folder.name == f'{name}-medium' and meta['scale'] == 'medium', meta['scale']
    p = plan(name, 'medium', out=folder, check=False)
    assert p.todo == [], f'{len(p.todo)} of the {len(p.tasks)} medium tasks of {name} are not in {folder}'
    for k in ('torch', 'python', 'started', 'provenance'): assert meta.get(k), k
    assert meta['provenance']['cores'] >= 1


@pytest.mark.parametrize('folder', RUNS, ids=lambda p: p.name)
def test_the_summary_reads_and_has_what_the_claims_need(folder):
    meta = json.loads((folder / 'config.json').read_text())
    p = plan(meta['experiment'], 'medium', check=False)
    rows = read_rows(folder / 'summary.csv', p.experiment.columns['summary.csv'])
    assert len(rows) >= len(p.tasks)
    for col, least in NEEDS[meta['experiment']]:
        short = [r for r in rows if r['method'] != 'none' and r[col] < least]
        assert not short, f'{len(short)} rows with {col} < {least}, e.g. {short[0]}'
    assert (folder / 'summary.md').exists()
    assert not list(folder.rglob('*.ckpt')), 'checkpoints are not committed'
