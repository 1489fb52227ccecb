"""The documentation site, rendered with the documented command and opened in a real browser (headless Chromium).

Fails when a page's maths did not render, when a sidebar or cross-reference link is broken, when a page shows a Python
traceback, or when the sidebar does not list the chapters of nbs/sidebar.yml in order.
"""
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

if CHROMIUM is None:
    if os.environ.get('CI'): raise RuntimeError('the docs browser test needs Chromium; .ci/run installs Debian\'s `chromium`')
    pytest.skip('Chromium is not installed (apt-get install chromium)', allow_module_level=True)


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp('site') / '_docs'
    subprocess.run([sys.executable, str(ROOT / '.ci' / 'docs.py'), '--out', str(out)], check=True, cwd=ROOT)
    return out


@pytest.fixture(scope='module')
def dom(site, tmp_path_factory):
    "Each page's DOM after its scripts ran in Chromium, keyed by path relative to the site."
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
