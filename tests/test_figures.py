"""Figures whose labels fit (issue: what a newcomer meets): every committed run's report is made again in a temporary
copy, and no figure it saves may have a label cut by its edge or printed over another (`report.label_defects`)."""
import json
import shutil
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNS = sorted(p.parent for p in (ROOT / 'nbs' / 'data').glob('*/config.json'))


@pytest.mark.parametrize('run', RUNS, ids=[p.name for p in RUNS])
def test_every_report_figure_fits(run, tmp_path):
    from gss_nbdev.experiments.harness import experiments
    from gss_nbdev.experiments import report
    name = json.loads((run / 'config.json').read_text())['experiment']
    shutil.copytree(run, tmp_path / run.name)
    report.FIGURE_DEFECTS.clear()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        experiments()[name].report(tmp_path / run.name)
    assert list((tmp_path / run.name).glob('*.png')), 'the report made no figure'
    assert report.FIGURE_DEFECTS == {}, report.FIGURE_DEFECTS


def test_a_figure_with_a_cut_label_is_caught(tmp_path):
    from gss_nbdev.experiments.report import pyplot, save_figure, FIGURE_DEFECTS
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.set_yticks([0, 1], ['a rather long tick label', 'another long one'])
    with pytest.warns(UserWarning, match='cut by the figure'):
        save_figure(fig, tmp_path / 'cut.png', tight=False)
    assert FIGURE_DEFECTS.pop(str(tmp_path / 'cut.png'))


def test_the_docs_build_catches_a_notebook_figure_with_a_cut_label(tmp_path):
    "The docs build checks every figure a notebook shows (.ci/docs.py): a small notebook with a cut label is reported."
    import subprocess, sys
    cell = lambda src: {'cell_type': 'code', 'execution_count': None, 'id': 'c0', 'metadata': {}, 'outputs': [],
                        'source': src}
    nb = {'cells': [cell('import matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(2, 1.5))\n'
                         "ax.set_yticks([0, 1], ['a rather long tick label', 'another long one'])")],
          'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}
    src, dest = tmp_path / 'small.ipynb', tmp_path / 'out.ipynb'
    src.write_text(json.dumps(nb))
    subprocess.run([sys.executable, str(ROOT / '.ci' / 'docs.py'), '_exec', str(src), str(dest)], check=True, cwd=ROOT)
    found = json.loads(dest.with_suffix('.figures.json').read_text())
    assert any("small.ipynb, figure 1: 'a rather long tick label' is cut" in d for d in found), found
