"""Build the documentation site and README.md offline, from the notebooks.

    python .ci/docs.py            # execute notebooks (slow cells skipped) -> nbdev proc_nbs -> smalldocs -> _docs/
    python .ci/docs.py readme     # write README.md from nbs/index.ipynb
    python .ci/docs.py readme --check   # exit 1 when README.md is out of date
    python .ci/docs.py execute [NB ...]  # run notebooks in place so their saved outputs are fresh (then nbdev_clean)

Where Quarto is installed, `nbdev_docs` and `nbdev_readme` work on the same notebooks, `_quarto.yml` and `nbs/sidebar.yml`;
this script is the Quarto-free path (see ../shared/TOOLCHAIN.md): smalldocs renders nbdev's processed notebooks, and KaTeX
is vendored next to the pages so maths renders with no network.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / 'nbs'
KATEX_VERSION = '0.16.11'
KATEX_CDN = f'https://cdn.jsdelivr.net/npm/katex@{KATEX_VERSION}/dist'
SKIP_FLAGS = {'slow'}


def _directives(source: str) -> dict:
    "The `#| key: value` directives at the top of a cell, as nbdev reads them."
    out = {}
    for line in source.splitlines():
        if not line.startswith('#|'):
            if line.strip(): break
            continue
        key, _, val = line[2:].strip().partition(' ')
        out[key.strip()] = val.strip()
    return out


def _skip(cell) -> bool:
    "Cells the docs build does not run: markdown, nbdev_export calls, `#| eval: false` and slow cells."
    if cell.cell_type != 'code': return True
    if 'nbdev_export' + '(' in cell.source: return True
    direc = _directives(cell.source)
    if direc.get('eval:', '').lower() == 'false': return True
    return bool(SKIP_FLAGS & set(direc))


def execute_notebook(src: Path, dest: Path) -> None:
    "Run `src` in a fresh in-process shell (cwd = its folder) and write it with outputs to `dest`; raise on any error."
    from execnb.nbio import read_nb, write_nb
    from execnb.shell import CaptureShell
    from fastcore.xtras import working_directory
    nb = read_nb(src)
    sys.path.insert(0, str(ROOT))  # like nbdev_test: the package imports from the checkout even when not installed
    os.environ.setdefault('MPLBACKEND', 'agg')
    shell = CaptureShell(src)
    with working_directory(src.parent):
        shell.run_all(nb, exc_stop=True, preproc=_skip)
    write_nb(nb, dest)


def executed_copy(dest: Path) -> Path:
    "Copy nbs/ to `dest` (symlinks resolved) and execute every notebook there, each in its own process."
    if dest.exists(): shutil.rmtree(dest)
    shutil.copytree(NBS, dest, symlinks=False, ignore=shutil.ignore_patterns('.ipynb_checkpoints', '_*.ipynb'))
    nbs = sorted(p for p in dest.rglob('*.ipynb'))
    for nb in nbs:
        print(f'executing {nb.relative_to(dest)}', flush=True)
        subprocess.run([sys.executable, __file__, '_exec', str(NBS / nb.relative_to(dest)), str(nb)], check=True, cwd=ROOT)
    return dest


def katex_dist() -> Path:
    "A local copy of KaTeX's dist/ folder: cached in .katex/, else Debian's libjs-katex, else `npm pack` from the registry."
    cache = ROOT / '.katex' / KATEX_VERSION
    if (cache / 'katex.min.js').exists(): return cache
    debian = Path('/usr/share/javascript/katex')
    if (debian / 'katex.min.js').exists() and (debian / 'contrib' / 'auto-render.min.js').exists(): return debian
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(['npm', 'pack', f'katex@{KATEX_VERSION}', '--silent'], cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        with tarfile.open(next(Path(tmp).glob('katex-*.tgz'))) as tf:
            tf.extractall(tmp, filter='data')
        cache.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(Path(tmp) / 'package' / 'dist', cache)
    return cache


def vendor_katex(site: Path) -> int:
    "Copy KaTeX into the site and point every page at it instead of the CDN; returns the number of pages changed."
    dist = katex_dist()
    target = site / 'site_libs' / 'katex'
    if target.exists(): shutil.rmtree(target)
    shutil.copytree(dist, target, ignore=shutil.ignore_patterns('*.mjs', '*.ttf', '*.woff'))
    changed = 0
    for page in site.rglob('*.html'):
        html = page.read_text(encoding='utf-8')
        if KATEX_CDN not in html: continue
        rel = os.path.relpath(target, page.parent).replace(os.sep, '/')
        page.write_text(html.replace(KATEX_CDN, rel), encoding='utf-8')
        changed += 1
    return changed


def build(out: Path = ROOT / '_docs', work: Path = ROOT / '_exec') -> Path:
    "Execute the notebooks, process them with nbdev, render with smalldocs, vendor KaTeX; the site lands in `out`."
    from fastcore.xtras import working_directory
    from nbdev.serve import proc_nbs
    executed_copy(work)
    proc = ROOT / '_proc'
    if proc.exists(): shutil.rmtree(proc)
    with working_directory(ROOT):
        proc_nbs(path=str(work), force=True, n_workers=0)
    subprocess.run(['smalldocs', 'render', str(proc), '--quiet'], check=True)
    site = proc / '_docs'
    n = vendor_katex(site)
    if out.exists(): shutil.rmtree(out)
    shutil.copytree(site, out)
    print(f'site written to {out} ({len(list(out.rglob("*.html")))} pages, KaTeX vendored into {n})')
    return out


def readme_text() -> str:
    "README.md from nbs/index.ipynb: the title, summary, markdown and the visible code cells with their text output."
    from nbdev.process import NBProcessor
    from nbdev.frontmatter import FrontmatterProc
    nb = NBProcessor(NBS / 'index.ipynb', procs=FrontmatterProc, process=True).nb
    fm = getattr(nb, 'frontmatter_', {}) or {}
    parts = [f"# {fm.get('title', 'gss_nbdev')}", f"> {fm['description']}" if fm.get('description') else '']
    parts.append('<!-- generated from nbs/index.ipynb by `python .ci/docs.py readme`; edit the notebook, not this file -->')
    for cell in nb.cells:
        src = cell.source.strip()
        if not src: continue
        direc = getattr(cell, 'directives_', {}) or {}
        if cell.cell_type == 'markdown':
            parts.append(re.sub(r'\]\(([0-9A-Za-z_]+)\.ipynb\)', r'](nbs/\1.ipynb)', src))
        elif cell.cell_type == 'code' and not ({'hide', 'include:'} & set(direc)) and 'nbdev_export(' not in src:
            code = '\n'.join(l for l in src.splitlines() if not l.startswith('#|'))
            parts.append(f'```python\n{code}\n```')
            outs = [o.get('text', '') for o in cell.get('outputs', []) if o.get('output_type') == 'stream']
            outs = ''.join(''.join(t) if isinstance(t, list) else t for t in outs).strip()
            if outs: parts.append(f'```\n{outs}\n```')
    return '\n\n'.join(p for p in parts if p) + '\n'


def readme(check: bool = False) -> int:
    text, path = readme_text(), ROOT / 'README.md'
    if check:
        if not path.exists() or path.read_text(encoding='utf-8') != text:
            print('README.md is out of date with nbs/index.ipynb: run `python .ci/docs.py readme`', file=sys.stderr)
            return 1
        return 0
    path.write_text(text, encoding='utf-8')
    print(f'wrote {path}')
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('what', nargs='?', default='site', choices=['site', 'readme', 'execute', '_exec'])
    ap.add_argument('args', nargs='*')
    ap.add_argument('--check', action='store_true', help='readme: fail when README.md is out of date')
    ap.add_argument('--out', type=Path, default=ROOT / '_docs', help='site: output folder')
    a = ap.parse_args(argv)
    if a.what == 'readme': return readme(a.check)
    if a.what == '_exec':
        execute_notebook(Path(a.args[0]), Path(a.args[1]))
        return 0
    if a.what == 'execute':
        for nb in [Path(n).resolve() for n in a.args] or sorted(NBS.glob('*.ipynb')):
            print(f'executing {nb.relative_to(ROOT)}', flush=True)
            subprocess.run([sys.executable, __file__, '_exec', str(nb), str(nb)], check=True, cwd=ROOT)
        return 0
    build(a.out.resolve())
    return 0


if __name__ == '__main__':
    sys.exit(main())
