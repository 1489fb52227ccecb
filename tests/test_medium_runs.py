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


def _seeded(folder) -> bool:
    return json.loads((folder / 'config.json').read_text())['experiment'] in ('sorting', 'warcraft')


@pytest.mark.parametrize('folder', [p for p in RUNS if _seeded(p)], ids=lambda p: p.name)
def test_every_trained_configuration_has_three_seeds(folder):
    "The issue's floor for the trained experiments: ≥ 3 seeds per compared configuration, each with val and test."
    import dataclasses
    meta = json.loads((folder / 'config.json').read_text())
    row_type = plan(meta['experiment'], 'medium', check=False).experiment.columns['summary.csv']
    names = [f.name for f in dataclasses.fields(row_type)]
    key = names[:names.index('seed')]
    seeds, splits = {}, {}
    for r in read_rows(folder / 'summary.csv', row_type):
        if r['method'] == 'uniform': continue   # the untrained reference: one evaluation, no seed to vary
        seeds.setdefault(tuple(r[k] for k in key), set()).add(r['seed'])
        splits.setdefault((tuple(r[k] for k in key), r['seed']), set()).add(r['split'])
    assert seeds
    few = {k: s for k, s in seeds.items() if len(s) < 3}
    assert not few, f'{len(few)} configurations with fewer than 3 seeds, e.g. {next(iter(few.items()))}'
    assert all(s == {'val', 'test'} for s in splits.values())
