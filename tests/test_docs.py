"""The documentation site, rendered with the documented command and opened in a real browser (headless Chromium).

Fails when a page's maths did not render, when a sidebar or cross-reference link is broken, when a page shows a Python
traceback, or when the sidebar does not list the chapters of nbs/sidebar.yml in order; and, on every page (`page_defects`),
on a link that leaves the site for a page the site has, raw markdown (a link, bold, a code span) left in the text, an API
entry without a docstring, an empty heading, a duplicated table-of-contents entry or a raw TeX delimiter. Each defect
class is shown to be caught on a small page that has it (`test_page_defects_catches_*`), without a browser.
"""
import configparser
import html
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
    toc = re.search(r'(?s)<nav[^>]*id="TOC".*?</nav>', page_html)
    if toc:
        entries = [html.unescape(re.sub(r'<[^>]+>', '', e)).strip() for e in re.findall(r'(?s)<a\b[^>]*>(.*?)</a>', toc.group(0))]
        bad += [f'{name}: table of contents lists {e!r} {entries.count(e)} times' for e in sorted(set(entries)) if entries.count(e) > 1]
    return bad


# --- each defect class, caught on a small page that has it (no browser needed) ---------------------------------------
CLEAN = ('<nav id="TOC"><ul><li><a href="#a">Alpha</a></li><li><a href="#b">Beta</a></li></ul></nav>'
         '<section id="a" class="level2"><h2>Alpha</h2><p>See <a href="02_smoothing.html#smooth"><code>smooth</code></a> and '
         '<span class="math inline">\\(x^2\\)</span>.</p>'
         '<hr />\n<p><a href="https://github.com/x/y" target="_blank">source</a></p>\n<h3 id="f">f</h3>\n'
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
}


def test_page_defects_passes_a_clean_page():
    assert page_defects('clean.html', CLEAN) == []


@pytest.mark.parametrize('defect', list(BROKEN))
def test_page_defects_catches_each_defect_class(defect):
    page, says = BROKEN[defect]
    found = page_defects('broken.html', page)
    assert found and all(says in f for f in found), found


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


@pytest.fixture(scope='module')
def dom(site, tmp_path_factory):
    "Each page's DOM after its scripts ran in Chromium, keyed by path relative to the site."
    if CHROMIUM is None:   # loud, not silent: .ci/test installs Chromium where it can, and says so where it cannot
        pytest.skip('Chromium is not installed, so the browser half of the docs test did NOT run (apt-get install chromium)')
    profile = tmp_path_factory.mktemp('chromium-profile')
    out = {}
    for page in sorted(site.rglob('*.html')):
        r = subprocess.run([CHROMIUM, *FLAGS, f'--user-data-dir={profile}', '--dump-dom', page.as_uri()],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and '<body' in r.stdout, f'Chromium could not open {page}: {r.stderr[-500:]}'
        out[page.relative_to(site).as_posix()] = r.stdout
    return out


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
            if parts.fragment and rel in ids and unquote(parts.fragment) not in ids[rel]:
                broken.append(f'{name} -> {href} (no such anchor)')
    assert not broken, 'broken links:\n' + '\n'.join(broken)


def test_sidebar_lists_chapters_in_order(dom):
    want = [nb.replace('.ipynb', '.html') for nb in chapters()]
    page = dom['index.html']
    side = re.search(r'(?s)<nav[^>]*id="quarto-sidebar".*?</nav>', page) or re.search(r'(?s)id="quarto-sidebar".*?</nav>', page)
    assert side, 'no sidebar on the index page'
    got = [Path(urlsplit(h).path).name for h in re.findall(r'href="([^"#]+\.html)"', side.group(0))]
    assert got == want, f'sidebar order {got} != {want}'
