"""The documentation site, rendered with the documented command and opened in a real browser (headless Chromium).

Fails when a page's maths did not render, when a sidebar or cross-reference link is broken, when a page shows a Python
traceback, or when the sidebar does not list the chapters of nbs/sidebar.yml in order; and, on every page (`page_defects`),
on a link that leaves the site for a page the site has, raw markdown (a link, bold, a code span) left in the text, an API
entry without a docstring, an empty heading, a duplicated table-of-contents entry or a raw TeX delimiter. Each defect
class is shown to be caught on a small page that has it (`test_page_defects_catches_*`), without a browser.
"""
import configparser
import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser') or shutil.which('google-chrome')
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--virtual-time-budget=8000']

_cfg = configparser.ConfigParser(delimiters=['=']); _cfg.read(ROOT / 'settings.ini')
DOC_URL = _cfg['DEFAULT']['doc_host'].rstrip('/') + '/' + _cfg['DEFAULT']['doc_baseurl'].strip('/') + '/'
# External hosts a page may link to: documentation that exists. The project publishes no repository or site of its own
# (settings.ini's git_url and doc_host are placeholders), so its "source" links point at local pages instead.
EXTERNAL_OK = {'nbdev.fast.ai', 'numba.readthedocs.io', 'docs.dask.org', 'distributed.dask.org', 'pytorch.org',
               'docs.pytorch.org', 'arxiv.org', 'doi.org', 'pypi.org', 'www.npmjs.com', 'abtem.readthedocs.io',
               'docs.scipy.org', 'matplotlib.org', 'jax.readthedocs.io'}
NO_DOCSTRING = ('Call self as a function.', 'Initialize self.', 'Create and return a new object.')


def _flat(page_html: str) -> str:
    "The page's prose: no scripts, styles, code, maths (TeX inside math spans) or navigation; tags removed, entities decoded."
    t = re.sub(r'(?s)<(script|style|pre|code|nav)\b.*?</\1>', ' ', page_html)
    t = re.sub(r'(?s)<span class="math (?:inline|display)">.*?</span>', ' ', t)
    return html.unescape(re.sub(r'(?s)<[^>]+>', ' ', t))


def page_defects(name: str, page_html: str) -> list:
    "What a reader would see as broken on one rendered page (static HTML, before scripts ran)."
    bad = []
    for href in re.findall(r'<a\b[^>]*\bhref="([^"]*)"', page_html):
        if html.unescape(href).startswith(DOC_URL):
            bad.append(f'{name}: link leaves the site for a page it has: {href}')
    text = _flat(page_html)
    for pat, what in ((r'\[[^\]\n]{1,120}\]\([^)\s]{1,200}\)', 'raw markdown link'), (r'\*\*[^*\n]{1,80}\*\*', 'raw **bold**'),
                      (r'`[^`\n]{1,80}`', 'raw `code span`'), (r'\\\(|\\\)|\\\[|\\\]|\$\$', 'raw TeX delimiter')):
        bad += [f'{name}: {what} on the page: {m.group(0)!r}' for m in re.finditer(pat, text)]
    for m in re.finditer(r'(?s)<hr />\s*(?:<p><a [^>]*>source</a></p>\s*)?<h([2-5])[^>]*>(.*?)</h\1>\s*'
                         r'<div class="code-copy-outer-scaffold">.*?</button></div>\s*(.{0,4000})', page_html):
        doc = re.match(r'(?s)<p>(.*?)</p>', m.group(3))
        words = html.unescape(re.sub(r'<[^>]+>', '', doc.group(1))).strip() if doc else ''
        if not words or words in NO_DOCSTRING:
            bad.append(f'{name}: API entry {re.sub("<[^>]+>", "", m.group(2))!r} has no docstring ({words or "nothing"!r})')
    for m in re.finditer(r'(?s)<h([1-6])[^>]*>((?:(?!</?h[1-6]).)*)</h\1>\s*</section>', page_html):
        bad.append(f'{name}: empty heading {re.sub("<[^>]+>", "", m.group(2)).strip()!r}')
    for out in re.findall(r'(?s)<div class="cell-output[^"]*">(.*?)</div>', page_html) + [text]:
        rows = re.findall(r'(?m)^\s*(\|(?:[^|\n]*\|){2,})\s*$', html.unescape(re.sub(r'<[^>]+>', '', out)))
        if any(re.fullmatch(r'\|[-:| ]+\|', r.replace(' ', '')) for r in rows):
            bad.append(f'{name}: a raw markdown table on the page: {rows[0][:80]!r}')
    for out in re.findall(r'(?s)<div class="cell-output[^"]*">(.*?)</div>', page_html):
        for m in re.finditer(r'np\.(?:float|int|uint|bool)\d*\(', html.unescape(out)):
            bad.append(f'{name}: a raw NumPy scalar repr in an output: {html.unescape(out)[m.start():m.start() + 40]!r}')
            break
    for href in re.findall(r'<a\b[^>]*\bhref="(https?://[^"]*)"', page_html):
        host = urlsplit(html.unescape(href))
        where = host.netloc + ('/' + host.path.strip('/').split('/')[0] if host.netloc == 'github.com' else '')
        if where not in EXTERNAL_OK:
            bad.append(f'{name}: link to {where}, a place not known to exist (allowed: tests/test_docs.py EXTERNAL_OK): {href}')
    toc = re.search(r'(?s)<nav[^>]*id="TOC".*?</nav>', page_html)
    if toc:
        entries = [html.unescape(re.sub(r'<[^>]+>', '', e)).strip() for e in re.findall(r'(?s)<a\b[^>]*>(.*?)</a>', toc.group(0))]
        bad += [f'{name}: table of contents lists {e!r} {entries.count(e)} times' for e in sorted(set(entries)) if entries.count(e) > 1]
    return bad


# --- each defect class, caught on a small page that has it (no browser needed) ---------------------------------------
CLEAN = ('<nav id="TOC"><ul><li><a href="#a">Alpha</a></li><li><a href="#b">Beta</a></li></ul></nav>'
         '<section id="a" class="level2"><h2>Alpha</h2><p>See <a href="02_smoothing.html#smooth"><code>smooth</code></a> and '
         '<span class="math inline">\\(x^2\\)</span>.</p>'
         '<hr />\n<p><a href="source/gss_nbdev/core.py.html#L5" target="_blank">source</a></p>\n<h3 id="f">f</h3>\n'
         '<div class="code-copy-outer-scaffold"><div class="sourceCode"><pre><code>def f(x)</code></pre></div><button></button></div>\n'
         '<p><em>Does a thing.</em></p></section>')
BROKEN = {  # defect -> (a page that has it, what page_defects must say)
    'leaves the site': (CLEAN.replace('02_smoothing.html#smooth', DOC_URL + 'smoothing.html#smooth'), 'leaves the site'),
    'raw markdown link': (CLEAN.replace('<p>See', '<p>([sort_permutation](10_sorting.ipynb)) See'), 'raw markdown link'),
    'raw bold': (CLEAN.replace('<p>See', '<p>**Important** See'), 'raw **bold**'),
    'raw code span': (CLEAN.replace('<p>See', '<p>the `black_box` See'), 'raw `code span`'),
    'raw TeX': (CLEAN.replace('<p>See', '<p>\\(a+b\\) See'), 'raw TeX delimiter'),
    'no docstring': (CLEAN.replace('<p><em>Does a thing.</em></p>', ''), "has no docstring ('nothing')"),
    'inherited docstring': (CLEAN.replace('Does a thing.', 'Call self as a function.'), 'has no docstring (\'Call self'),
    'empty heading': (CLEAN + '<section id="c" class="level2"><h2>Presets</h2>\n</section>', "empty heading 'Presets'"),
    'duplicated toc entry': (CLEAN.replace('>Beta<', '>Alpha<'), "table of contents lists 'Alpha' 2 times"),
    'raw markdown table': (CLEAN.replace('</section>', '<div class="cell-output cell-output-stdout"><pre><code>| method | '
                                         'EM |\n|---|---|\n| gss | 29.0 |</code></pre></div></section>'),
                           'a raw markdown table'),
    'numpy scalar repr': (CLEAN.replace('</section>', '<div class="cell-output cell-output-display"><pre><code>'
                                        "{'path_mean': np.float64(0.1684)}</code></pre></div></section>"),
                          'a raw NumPy scalar repr'),
    'dead external host': (CLEAN.replace('02_smoothing.html#smooth', 'https://github.com/gss-nbdev/gss_nbdev/blob/main/x.py'),
                           'link to github.com/gss-nbdev, a place not known to exist'),
}


def test_page_defects_passes_a_clean_page():
    assert page_defects('clean.html', CLEAN) == []


@pytest.mark.parametrize('defect', list(BROKEN))
def test_page_defects_catches_each_defect_class(defect):
    page, says = BROKEN[defect]
    found = page_defects('broken.html', page)
    assert found and any(says in f for f in found), found


if CHROMIUM is None and os.environ.get('CI'):
    raise RuntimeError("the docs browser test needs Chromium; .ci/run installs Debian's `chromium`")


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    "The site `.ci/test` built in its notebook step ($GSS_DOCS_SITE), or a fresh build with the documented command."
    built = os.environ.get('GSS_DOCS_SITE')
    if built and (Path(built) / 'index.html').exists(): return Path(built)
    out = tmp_path_factory.mktemp('site') / '_docs'
    subprocess.run([sys.executable, str(ROOT / '.ci' / 'docs.py'), '--jobs', '2', '--out', str(out)], check=True,
                   cwd=ROOT)
    return out


# Run in each page once it has loaded and KaTeX has rendered: every element of the text column whose right edge passes
# the column's (outside a box that scrolls sideways, which is how wide code and tables are meant to fit), and the
# column's width — written into <body data-overflow/data-column> for --dump-dom to carry out.
MEASURE = """<script>window.addEventListener('load', () => setTimeout(() => {
  const main = document.querySelector('main') || document.body, col = main.getBoundingClientRect(), bad = [];
  const scrolls = el => { for (let p = el.parentElement; p && p !== main; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX; if (o === 'auto' || o === 'scroll' || o === 'hidden') return true; }
    return false; };
  for (const el of main.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > col.right + 2 && !scrolls(el))
      bad.push(`${el.tagName.toLowerCase()} ${Math.round(r.right - col.right)} px too wide: ` +
               (el.textContent || el.getAttribute('src') || '').trim().slice(0, 70));
  }
  document.body.setAttribute('data-overflow', JSON.stringify(bad.slice(0, 10)));
  document.body.setAttribute('data-column', String(Math.round(col.width)));
}, 300));</script>"""
WINDOW = (1280, 900)


@pytest.fixture(scope='module')
def dom(site, tmp_path_factory):
    """Each page's DOM after its scripts ran in Chromium in a 1280 × 900 window, measured by MEASURE, keyed by path
    relative to the site (the generated source views excepted)."""
    if CHROMIUM is None:   # loud, not silent: .ci/test installs Chromium where it can, and says so where it cannot
        pytest.skip('Chromium is not installed, so the browser half of the docs test did NOT run (apt-get install chromium)')
    profile = tmp_path_factory.mktemp('chromium-profile')
    view = tmp_path_factory.mktemp('measured') / 'site'
    shutil.copytree(site, view)
    out = {}
    for page in sorted(view.rglob('*.html')):
        name = page.relative_to(view).as_posix()
        if name.startswith('source/'): continue
        page.write_text(page.read_text(encoding='utf-8').replace('</body>', MEASURE + '</body>', 1), encoding='utf-8')
        r = subprocess.run([CHROMIUM, *FLAGS, f'--window-size={WINDOW[0]},{WINDOW[1]}', f'--user-data-dir={profile}',
                            '--dump-dom', page.as_uri()], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and '<body' in r.stdout, f'Chromium could not open {page}: {r.stderr[-500:]}'
        out[name] = r.stdout
    return out


def _measured(page_html: str) -> tuple:
    "(elements wider than the column, the column's width in px) as MEASURE wrote them."
    m, c = re.search(r'data-overflow="([^"]*)"', page_html), re.search(r'data-column="(\d+)"', page_html)
    assert m and c, 'the measuring script did not run'
    return json.loads(html.unescape(m.group(1))), int(c.group(1))


def test_nothing_is_wider_than_its_column(dom):
    bad = {name: _measured(page)[0] for name, page in dom.items()}
    bad = {k: v for k, v in bad.items() if v}
    assert not bad, 'elements wider than the text column:\n' + '\n'.join(f'{k}: {v[:3]}' for k, v in bad.items())


def test_the_text_column_uses_the_window(dom):
    widths = {name: _measured(page)[1] for name, page in dom.items()}
    narrow = {k: w for k, w in widths.items() if w < 0.6 * WINDOW[0]}
    assert not narrow, f'text column narrower than 60 % of a {WINDOW[0]} px window: {narrow}'


def test_the_measure_catches_a_wide_element(tmp_path):
    if CHROMIUM is None: pytest.skip('Chromium is not installed')
    page = tmp_path / 'wide.html'
    page.write_text('<html><body><main style="width: 600px"><p>fits</p><div style="width: 900px">too wide</div>'
                    '<div style="overflow-x: auto"><pre style="width: 900px">scrolls: fine</pre></div></main>'
                    + MEASURE + '</body></html>')
    r = subprocess.run([CHROMIUM, *FLAGS, f'--window-size={WINDOW[0]},{WINDOW[1]}',
                        f'--user-data-dir={tmp_path / "profile"}', '--dump-dom', page.as_uri()],
                       capture_output=True, text=True, timeout=120)
    bad, width = _measured(r.stdout)
    assert width == 600 and len(bad) == 1 and 'too wide' in bad[0], (bad, width)


def chapters():
    "The notebooks of nbs/sidebar.yml, in order."
    def walk(items):
        for it in items:
            if isinstance(it, str): yield it
            elif isinstance(it, dict): yield from walk(it.get('contents', []))
    side = yaml.safe_load((ROOT / 'nbs' / 'sidebar.yml').read_text())
    return list(walk(side['website']['sidebar']['contents']))


def visible_text(page_html):
    body = re.sub(r'(?s)<(script|style)\b.*?</\1>', ' ', page_html)
    return html.unescape(re.sub(r'(?s)<[^>]+>', ' ', body))


def test_every_chapter_is_a_page(site):
    pages = {p.relative_to(site).as_posix() for p in site.rglob('*.html')}
    for nb in chapters():
        assert nb.replace('.ipynb', '.html') in pages, f'{nb} is in the sidebar but was not rendered'
    assert (site / 'site_libs' / 'katex' / 'katex.min.js').exists(), 'KaTeX was not vendored'


def test_no_run_leftovers_are_published(site):
    "Run folders the notebooks write (runs/) and the summary.md of committed runs (data/) are data, not pages."
    stray = [p.relative_to(site).as_posix() for p in site.rglob('*.html')
             if p.relative_to(site).parts[0] in ('runs', 'data')]
    assert not stray, f'run outputs published as pages: {stray[:10]}'


def test_every_page_is_free_of_defects(site):
    pages = sorted(site.rglob('*.html'))
    assert len(pages) >= 15
    bad = [d for p in pages for d in page_defects(p.relative_to(site).as_posix(), p.read_text(encoding='utf-8'))]
    assert not bad, f'{len(bad)} defects:\n' + '\n'.join(bad[:40])


def test_code_is_never_cut(site):
    css = (site / 'styles.css').read_text()
    assert re.search(r'pre\s*\{[^}]*overflow-x:\s*auto', css), 'long code lines must scroll, not be cut'
    assert re.search(r'pre\.sourceCode\.sh code[^{]*\{[^}]*white-space:\s*pre-wrap', css), 'shell commands must wrap'
    assert 'styles.css' in (site / 'index.html').read_text()


def test_no_figure_label_is_cut_or_overlapped(site):
    "Every figure the notebooks showed while the site was built, checked by report.label_defects (see .ci/docs.py)."
    found = json.loads((site / 'figure_defects.json').read_text())
    assert not found, f'{len(found)} label defects in the notebooks\' figures:\n' + '\n'.join(found[:20])


def test_maths_renders(dom):
    for name, page in dom.items():
        assert 'cdn.jsdelivr.net/npm/katex' not in page, f'{name} loads KaTeX from a CDN'
        text = visible_text(page)
        has_math = 'class="math' in page
        if has_math:
            assert 'class="katex' in page, f'{name}: maths present but KaTeX did not render it'
        for raw in ('\\(', '\\)', '\\[', '$$'):
            assert raw not in text, f'{name}: raw TeX delimiter {raw!r} left on the page'
    assert sum('class="katex' in p for p in dom.values()) >= 3, 'expected maths on the theory chapters'


def test_no_tracebacks(dom):
    for name, page in dom.items():
        text = visible_text(page)
        for bad in ('Traceback (most recent call last)', 'Error in notebook', 'NameError:', 'ModuleNotFoundError'):
            assert bad not in text, f'{name} shows a Python error: {bad}'


def test_links_resolve(site, dom):
    ids = {name: set(re.findall(r'\bid="([^"]+)"', page)) for name, page in dom.items()}
    broken = []
    for name, page in dom.items():
        for href in re.findall(r'<a\b[^>]*\bhref="([^"]*)"', page):
            href = html.unescape(href)
            parts = urlsplit(href)
            if parts.scheme in ('http', 'https', 'mailto', 'javascript') or href.startswith('//'): continue
            if parts.scheme == 'file':
                target = Path(unquote(parts.path))
                rel = target.relative_to(site).as_posix() if target.is_relative_to(site) else None
            elif parts.path:
                target = (site / name).parent / unquote(parts.path)
                rel = target.resolve().relative_to(site.resolve()).as_posix() if target.resolve().is_relative_to(site.resolve()) else None
            else:
                target, rel = site / name, name
            if target.is_dir(): target, rel = target / 'index.html', f'{rel}/index.html'.lstrip('./')
            if not target.exists():
                broken.append(f'{name} -> {href}'); continue
            if parts.fragment and rel not in ids: ids[rel] = set(re.findall(r'\bid="([^"]+)"', target.read_text()))
            if parts.fragment and unquote(parts.fragment) not in ids[rel]:
                broken.append(f'{name} -> {href} (no such anchor)')
    assert not broken, 'broken links:\n' + '\n'.join(broken)


def test_sidebar_lists_chapters_in_order(dom):
    want = [nb.replace('.ipynb', '.html') for nb in chapters()]
    page = dom['index.html']
    side = re.search(r'(?s)<nav[^>]*id="quarto-sidebar".*?</nav>', page) or re.search(r'(?s)id="quarto-sidebar".*?</nav>', page)
    assert side, 'no sidebar on the index page'
    got = [Path(urlsplit(h).path).name for h in re.findall(r'href="([^"#]+\.html)"', side.group(0))]
    assert got == want, f'sidebar order {got} != {want}'
