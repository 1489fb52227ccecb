"Install checks: the package imports, its metadata matches settings.ini, the console script runs, and README agrees with CI."
import configparser
import re
import shutil
import subprocess
import sys
import typing
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CFG = configparser.ConfigParser(delimiters=['='])
CFG.read(ROOT / 'settings.ini')


def test_import_and_version():
    import gss_nbdev
    assert gss_nbdev.__version__ == CFG['DEFAULT']['version']


def test_public_modules_import():
    from gss_nbdev import distributions, sampling, cli  # noqa: F401
    from gss_nbdev._modidx import d
    assert {'gss_nbdev.distributions', 'gss_nbdev.sampling', 'gss_nbdev.cli'} <= set(d['syms'])


def test_console_script_quickstart():
    exe = shutil.which('gss')
    cmd = [exe] if exe else [sys.executable, '-c', 'import sys; from gss_nbdev.cli import main; sys.exit(main())']
    r = subprocess.run([*cmd, 'quickstart'], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert 'exact' in r.stdout
    r = subprocess.run([*cmd, 'frobnicate'], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and 'invalid choice' in r.stderr


def test_readme_has_the_two_commands():
    readme = (ROOT / 'README.md').read_text()
    run = (ROOT / '.ci' / 'run').read_text()
    test_cmd = re.search(r'^pip install torch==[0-9.]+ && pip install -e "\.\[dev\]" && bash \.ci/test$', readme, re.M)
    main_cmd = re.search(r'^pip install torch==[0-9.]+ && pip install -e \. && gss \w+', readme, re.M)
    assert test_cmd and main_cmd, 'README must show the install-and-run and install-and-test commands'
    assert 'grep -m1' in run and 'bash \\.ci/test' in run, '.ci/run must run the README test command'


def test_requirements_keep_torch_open():
    reqs = CFG['DEFAULT']['requirements'].split()
    assert 'torch>=2.2' in reqs, 'keep torch>=2.2 so CUDA users are not forced onto the CPU wheel'


def test_every_public_callable_has_show_doc():
    "Each name in a module's __all__ that is a function or class is documented by a show_doc cell in its notebook."
    import importlib
    import json
    from gss_nbdev._modidx import d
    missing = []
    for mod in d['syms']:
        m = importlib.import_module(mod)
        src_nb = Path(m.__file__).read_text().split('File to edit: ')[1].split('.ipynb')[0] + '.ipynb'
        cells = json.loads((Path(m.__file__).parent / src_nb).resolve().read_text())['cells']
        text = '\n'.join(''.join(c['source']) for c in cells)
        missing += [f'{mod}.{n}' for n in getattr(m, '__all__', [])
                    if callable(getattr(m, n)) and typing.get_origin(getattr(m, n)) is not typing.Annotated
                    and not re.search(rf'show_doc\({re.escape(n)}\b', text)]
    assert not missing, f"public callables without a show_doc entry: {missing}"


def _package_imports():
    "{module: {imported gss_nbdev module: [names]}} from every import statement of the package (module- or function-level)."
    import ast
    pkg = ROOT / 'gss_nbdev'
    out = {}
    for path in sorted(pkg.rglob('*.py')):
        if path.name == '_modidx.py': continue
        mod = '.'.join(path.relative_to(ROOT).with_suffix('').parts).removesuffix('.__init__')
        deps = out.setdefault(mod, {})
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ''
                if node.level:                                         # relative: resolve against this module's package
                    parent = mod.split('.')[:-node.level] if not path.name == '__init__.py' else mod.split('.')
                    base = '.'.join(parent + ([base] if base else []))
                if base.startswith('gss_nbdev'):
                    deps.setdefault(base, []).extend(a.name for a in node.names)
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith('gss_nbdev'): deps.setdefault(a.name, [])
    return out


def test_no_private_names_imported_across_modules():
    bad = [f'{m} imports {n} from {d}' for m, deps in _package_imports().items() for d, names in deps.items()
           for n in names if n.startswith('_') and not n.startswith('__') and d != m]
    assert not bad, bad


def test_no_private_distribution_methods_called_outside_their_module():
    bad = []
    for path in sorted((ROOT / 'gss_nbdev').rglob('*.py')):
        if path.name in ('distributions.py', '_modidx.py'): continue
        bad += [f'{path.name}: {m}' for m in re.findall(r'\b\w+\._(?:score|sample|icdf|cdf|log_prob)\(', path.read_text())]
    assert not bad, bad


def test_no_import_cycles():
    graph = {m: {d for d in deps if d != m and d != 'gss_nbdev'} for m, deps in _package_imports().items()}
    state = {}
    def visit(m, path):
        if state.get(m) == 'done': return
        if state.get(m) == 'open': raise AssertionError('import cycle: ' + ' -> '.join(path + [m]))
        state[m] = 'open'
        for d in sorted(graph.get(m, ())): visit(d, path + [m])
        state[m] = 'done'
    for m in sorted(graph): visit(m, [])


def test_layers_import_only_downwards():
    "The layers of the architecture page: a module imports only from its own layer or the ones below it."
    layer = {'validation': 0, 'distributions': 1, 'sampling': 2, 'finite': 2, 'evaluators': 2, 'core': 3, 'spec': 3,
             'smoothing': 4, 'hessian': 4, 'median': 4, 'covariance': 4, 'flow': 4, 'models': 5, 'algorithms': 1,
             'datasets': 1, 'experiments': 6, 'cli': 7}
    def of(m):
        parts = m.split('.')
        return layer.get(parts[1] if len(parts) > 1 else '', None)
    bad = [f'{m} (layer {of(m)}) imports {d} (layer {of(d)})' for m, deps in _package_imports().items()
           for d in deps if of(m) is not None and of(d) is not None and of(d) > of(m)]
    assert not bad, bad


def test_import_stays_light():
    "The estimators import without Dask, SciPy or matplotlib: optional dependencies load where they are used."
    code = ("import sys, gss_nbdev.smoothing, gss_nbdev.models, gss_nbdev.median, gss_nbdev.covariance, gss_nbdev.flow; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'distributed', 'dask', 'scipy', 'matplotlib', 'cloudpickle'}))")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and r.stdout.strip() == '[]', (r.stdout, r.stderr)


def test_package_lines_fit_120_characters():
    "Hand-written lines stay ≤ 120 characters; nbdev's own one-line module docstring and `__all__` are not ours to wrap."
    bad = []
    for path in sorted((ROOT / 'gss_nbdev').rglob('*.py')):
        if path.name == '_modidx.py': continue
        in_all = False
        for i, line in enumerate(path.read_text(encoding='utf-8').split('\n'), 1):
            generated = (i == 1 and line.startswith('"""')) or line.startswith('__all__')
            generated = generated or (in_all and line.startswith(' ' * 11))
            in_all = line.startswith('__all__') or (in_all and line.startswith(' ' * 11))
            if len(line) > 120 and not generated: bad.append(f'{path.relative_to(ROOT)}:{i} ({len(line)} characters)')
    assert not bad, bad
