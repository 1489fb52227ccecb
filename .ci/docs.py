"""Build the documentation site and README.md offline, from the notebooks.

    python .ci/docs.py [--jobs 2] # execute notebooks (slow cells skipped) -> nbdev proc_nbs -> smalldocs -> _docs/
    python .ci/docs.py readme     # write README.md from nbs/index.ipynb
    python .ci/docs.py readme --check   # exit 1 when README.md is out of date
    python .ci/docs.py execute [NB ...]  # run notebooks in place so their saved outputs are fresh (then nbdev_clean)

Where Quarto is installed, `nbdev_docs` and `nbdev_readme` work on the same notebooks, `_quarto.yml` and `nbs/sidebar.yml`;
this script is the Quarto-free path (see CONTRIBUTING.md): smalldocs renders nbdev's processed notebooks, and KaTeX
is vendored next to the pages so maths renders with no network.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
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
    defects = _check_figures(src.name)
    shell = CaptureShell(src)
    with working_directory(src.parent):
        shell.run_all(nb, exc_stop=True, preproc=_skip)
    write_nb(nb, dest)
    dest.with_suffix('.figures.json').write_text(json.dumps(defects))


def _check_figures(name: str) -> list:
    """Before a notebook runs: have the inline backend check every figure it is about to show with
    `report.label_defects` (labels cut by the edge, labels over labels); returns the list the defects will land in."""
    import matplotlib_inline.backend_inline as inline
    from matplotlib._pylab_helpers import Gcf
    from gss_nbdev.experiments.report import label_defects
    found, flush, shown = [], inline.flush_figures, [0]
    def checked_flush():
        if getattr(inline.show, '_draw_called', False):
            for manager in Gcf.get_all_fig_managers():
                shown[0] += 1
                found.extend(f'{name}, figure {shown[0]}: {d}' for d in label_defects(manager.canvas.figure))
        return flush()
    inline.flush_figures = checked_flush      # configure_inline_support registers whatever the module holds
    return found


TIMINGS = ROOT / '.ci' / 'notebook_seconds.json'


def _run_one(src: Path, dest: Path, threads: int) -> float:
    "Execute one notebook in its own process with `threads` math threads; its wall time, or CalledProcessError."
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, __file__, '_exec', str(src), str(dest)], cwd=ROOT, env=env,
                       capture_output=True, text=True)
    if r.returncode:
        print(f'FAILED {src.relative_to(ROOT)}:\n{r.stdout[-4000:]}{r.stderr[-8000:]}', file=sys.stderr, flush=True)
        raise subprocess.CalledProcessError(r.returncode, r.args)
    return time.perf_counter() - t0


def executed_copy(dest: Path, jobs: int = 1, save_timings: bool = False) -> Path:
    """Copy nbs/ to `dest` (symlinks resolved) and execute every notebook there, each in its own process, `jobs` at a
    time (each with cpu_count / jobs math threads, so that parallel notebooks do not oversubscribe the cores), the
    longest first by the last recorded timings. Raises on the first notebook that fails, after printing its error."""
    from concurrent.futures import ThreadPoolExecutor
    if dest.exists(): shutil.rmtree(dest)
    shutil.copytree(NBS, dest, symlinks=False, ignore=shutil.ignore_patterns('.ipynb_checkpoints', '_*.ipynb'))
    nbs = sorted(p for p in dest.rglob('*.ipynb'))
    known = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
    nbs.sort(key=lambda nb: -known.get(nb.relative_to(dest).as_posix(), 0.0))
    threads = max(1, (os.cpu_count() or 1) // max(1, jobs))
    seconds, t0 = {}, time.perf_counter()
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        futs = {nb: pool.submit(_run_one, NBS / nb.relative_to(dest), nb, threads) for nb in nbs}
        for nb, fut in futs.items():
            seconds[nb.relative_to(dest).as_posix()] = round(fut.result(), 1)
    for name, sec in sorted(seconds.items(), key=lambda kv: -kv[1]): print(f'{name}: {sec:.0f} s')
    print(f'{len(nbs)} notebooks executed in {time.perf_counter() - t0:.0f} s ({jobs} at a time, {threads} thread(s) '
          'each)', flush=True)
    if save_timings: TIMINGS.write_text(json.dumps(dict(sorted(seconds.items())), indent=1) + '\n')
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


# Keys of _quarto.yml that only Quarto reads (nbdev_docs uses them where Quarto exists); smalldocs would warn about each.
QUARTO_ONLY = (('format', 'commonmark'), ('format', 'html', 'html-math-method'), ('format', 'html', 'keep-md'))


def smalldocs_ready(proc: Path) -> dict:
    """Prepare nbdev's processed notebooks for smalldocs; returns {nbdev page name: local page name}.

    nbdev names a page after its module (`smoothing.html`), writes that into an `output-file` front-matter key and links
    API names there; smalldocs names pages after the notebook (`02_smoothing.html`) and ignores the key (with a warning).
    So the key is taken out here and remembered, and `local_api_links` later points every API link at the local page.
    """
    import yaml
    from execnb.nbio import read_nb, write_nb
    pages = {}
    for nb_path in sorted(proc.glob('*.ipynb')):
        nb = read_nb(nb_path)
        first = nb.cells[0] if nb.cells else None
        if first is None or not first.source.startswith('---'): continue
        m = re.search(r'^output-file:\s*(\S+)\s*$', first.source, re.M)
        if not m: continue
        pages[m.group(1)] = nb_path.with_suffix('.html').name
        first.source = first.source[:m.start()] + first.source[m.end() + 1:]
        write_nb(nb, nb_path)
    cfg_path = proc / '_quarto.yml'
    cfg = yaml.safe_load(cfg_path.read_text())
    for keys in QUARTO_ONLY:
        d = cfg
        for k in keys[:-1]: d = d.get(k, {}) if isinstance(d, dict) else {}
        if isinstance(d, dict): d.pop(keys[-1], None)
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True))
    return pages


def doc_url() -> str:
    "Where nbdev believes the site lives (settings.ini doc_host + doc_baseurl): the prefix of its API links."
    import configparser
    c = configparser.ConfigParser(delimiters=['=']); c.read(ROOT / 'settings.ini')
    return c['DEFAULT']['doc_host'].rstrip('/') + '/' + c['DEFAULT']['doc_baseurl'].strip('/') + '/'


def local_api_links(site: Path, pages: dict) -> int:
    """Point nbdev's absolute API links (`{doc_url}smoothing.html#smooth`) at the local pages; returns links rewritten.

    A link to a name without an entry on its page (a private helper mentioned in the prose) becomes plain text."""
    prefix, n = doc_url(), 0
    html_of = {p: p.read_text(encoding='utf-8') for p in site.rglob('*.html')}
    ids = {p.name: set(re.findall(r'\bid="([^"]+)"', h)) for p, h in html_of.items()}
    pat = re.compile(r'(?s)<a href="' + re.escape(prefix) + r'([\w.-]+\.html)(?:#([^"]*))?"([^>]*)>(.*?)</a>')
    def local(m):
        nonlocal n
        page, frag, attrs, inner = m.groups()
        if page not in pages: return m.group(0)
        n += 1
        if frag and frag not in ids.get(pages[page], set()): return inner
        return f'<a href="{pages[page]}{"#" + frag if frag else ""}"{attrs}>{inner}</a>'
    for page, html in html_of.items():
        new = pat.sub(local, html)
        if new != html: page.write_text(new, encoding='utf-8')
    return n


def _settings() -> dict:
    import configparser
    c = configparser.ConfigParser(delimiters=['=']); c.read(ROOT / 'settings.ini')
    return dict(c['DEFAULT'])


SOURCE_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{path}</title><link rel="stylesheet" href="{css}">
<style>body {{ margin: 1.5rem auto; max-width: 1100px; padding: 0 1rem; font-family: system-ui, sans-serif; }}
pre.source {{ overflow-x: auto; font-size: 0.85rem; line-height: 1.35; }}
pre.source .ln {{ display: inline-block; width: 4ch; color: #999; text-decoration: none; user-select: none; }}
pre.source span:target {{ background: #fff3c4; }}</style></head>
<body><main><h1>{path}</h1>
<p>The module as <code>nbdev_export</code> writes it from the notebooks (the notebook is the source of truth).
<a href="{index}">Back to the book</a>.</p>
<pre class="source"><code>{lines}</code></pre></main></body></html>
"""


CONTRIBUTING_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Contributing to gss_nbdev</title><link rel="stylesheet" href="styles.css">
<style>body {{ margin: 1.5rem auto; max-width: 1100px; padding: 0 1rem; font-family: system-ui, sans-serif; }}
pre {{ overflow-x: auto; }} table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 2px 6px; }}
</style></head>
<body><main><p><a href="index.html">Back to the book</a> · the same text as <code>CONTRIBUTING.md</code> in the
repository.</p>
{body}</main></body></html>
"""


def contributing_page(site: Path) -> Path:
    """CONTRIBUTING.md as a page of the site (the index links `CONTRIBUTING.md`, which the renderer turns into
    `CONTRIBUTING.html`), rendered with mistune (nbconvert's Markdown parser), plus the file itself."""
    import mistune
    shutil.copy(ROOT / 'CONTRIBUTING.md', site / 'CONTRIBUTING.md')
    page = site / 'CONTRIBUTING.html'
    page.write_text(CONTRIBUTING_PAGE.format(body=mistune.html((ROOT / 'CONTRIBUTING.md').read_text(encoding='utf-8'))),
                    encoding='utf-8')
    return page


def local_source_links(site: Path) -> int:
    """nbdev's "source" links point at settings.ini's git_url, a repository host this project does not publish to; point
    them at a local view of the same file instead (`source/<path>.html#L<n>`, written here); returns links rewritten."""
    import html as html_lib
    s = _settings()
    prefix = s['git_url'].rstrip('/') + '/blob/' + s.get('branch', 'main') + '/'
    pat = re.compile(r'href="' + re.escape(prefix) + r'([^"#]+)(?:#L(\d+))?"')
    files, n = set(), 0
    for page in site.rglob('*.html'):
        text = page.read_text(encoding='utf-8')
        def local(m):
            nonlocal n
            files.add(m.group(1)); n += 1
            rel = os.path.relpath(site / 'source' / (m.group(1) + '.html'), page.parent).replace(os.sep, '/')
            return f'href="{rel}' + (f'#L{m.group(2)}' if m.group(2) else '') + '"'
        new = pat.sub(local, text)
        if new != text: page.write_text(new, encoding='utf-8')
    for f in sorted(files):
        src, dest = ROOT / f, site / 'source' / (f + '.html')
        if not src.is_file(): continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        lines = ''.join(f'<span id="L{i}"><a class="ln" href="#L{i}">{i}</a>{html_lib.escape(line)}</span>\n'
                        for i, line in enumerate(src.read_text(encoding='utf-8').splitlines(), 1))
        rel = lambda p: os.path.relpath(site / p, dest.parent).replace(os.sep, '/')
        dest.write_text(SOURCE_PAGE.format(path=html_lib.escape(f), css=rel('styles.css'), index=rel('index.html'),
                                           lines=lines), encoding='utf-8')
    return n


def build(out: Path = ROOT / '_docs', work: Path = ROOT / '_exec', jobs: int = 1, save_timings: bool = False) -> Path:
    """Execute the notebooks (`jobs` at a time), process them with nbdev, render with smalldocs, vendor KaTeX; the site
    lands in `out`."""
    from fastcore.xtras import working_directory
    from nbdev.serve import proc_nbs
    executed_copy(work, jobs, save_timings)
    proc = ROOT / '_proc'
    if proc.exists(): shutil.rmtree(proc)
    with working_directory(ROOT):
        proc_nbs(path=str(work), force=True, n_workers=0)
    # run folders the notebooks wrote (runs/) and the reports inside committed runs (data/**/*.md) are data, not pages
    shutil.rmtree(proc / 'runs', ignore_errors=True)
    for md in (proc / 'data').rglob('*.md') if (proc / 'data').exists() else []: md.unlink()
    pages = smalldocs_ready(proc)
    subprocess.run(['smalldocs', 'render', str(proc), '--quiet'], check=True)
    site = proc / '_docs'
    links = local_api_links(site, pages)
    sources = local_source_links(site)
    figures = [d for f in sorted(work.rglob('*.figures.json')) for d in json.loads(f.read_text())]
    (site / 'figure_defects.json').write_text(json.dumps(figures, indent=1))
    contributing_page(site)                               # the index links it, as the README does
    n = vendor_katex(site)
    if out.exists(): shutil.rmtree(out)
    shutil.copytree(site, out)
    print(f'site written to {out} ({len(list(out.rglob("*.html")))} pages, {links} API links and {sources} source links '
          f'made local, KaTeX vendored into {n})')
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
    ap.add_argument('--jobs', type=int, default=1, help='site: notebooks executed at a time')
    ap.add_argument('--save-timings', action='store_true', help=f'site: record each notebook\'s seconds in {TIMINGS.name}')
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
    build(a.out.resolve(), jobs=a.jobs, save_timings=a.save_timings)
    return 0


if __name__ == '__main__':
    sys.exit(main())
