"Setup for gss_nbdev, read from settings.ini (nbdev 2 layout, without `pkg_resources`)."
from configparser import ConfigParser
from pathlib import Path
import shlex

import setuptools
from packaging.version import parse

here = Path(__file__).parent
config = ConfigParser(delimiters=['='])
config.read(here/'settings.ini', encoding='utf-8')
cfg = config['DEFAULT']

expected = 'version description keywords author author_email'.split()
missing = [o for o in expected if o not in cfg]
if missing: raise ValueError(f'settings.ini is missing {missing}')
parse(cfg['version'])  # refuse a malformed version early

licenses = {'apache2': ('Apache Software License 2.0', 'OSI Approved :: Apache Software License')}
statuses = ['1 - Planning', '2 - Pre-Alpha', '3 - Alpha', '4 - Beta', '5 - Production/Stable', '6 - Mature', '7 - Inactive']
py_versions = '3.10 3.11 3.12 3.13'.split()

def reqs(key): return shlex.split(cfg.get(key, '').replace('\n', ' '))

requirements = reqs('requirements')
dev_requirements = reqs('dev_requirements')
dask_requirements = reqs('dask_requirements')   # optional: DaskEvaluator and process pools (`pip install gss_nbdev[dask]`)
sorting_requirements = reqs('sorting_requirements')   # optional: the DSN baselines (`pip install gss_nbdev[sorting]`)
cryoet_requirements = reqs('cryoet_requirements')     # optional: the abTEM simulator (`pip install gss_nbdev[cryoet]`)
lic = licenses.get(cfg['license'].lower(), (cfg['license'], None))
min_python = cfg['min_python']
readme = here/'README.md'
long_description = readme.read_text(encoding='utf-8') if readme.exists() else cfg['description']
scripts = [s for s in cfg.get('console_scripts', '').split('\n') if s.strip()]

setuptools.setup(
    name=cfg['lib_name'],
    license=lic[0],
    classifiers=[
        'Development Status :: ' + statuses[int(cfg['status'])],
        'Intended Audience :: ' + cfg['audience'].title(),
        'Natural Language :: ' + cfg['language'].title(),
    ] + ['Programming Language :: Python :: ' + o for o in py_versions[py_versions.index(min_python):]]
      + (['License :: ' + lic[1]] if lic[1] else []),
    url=cfg['git_url'],
    packages=setuptools.find_packages(include=[cfg['lib_path'], cfg['lib_path'] + '.*']),
    include_package_data=True,
    install_requires=requirements,
    extras_require={'dask': dask_requirements, 'sorting': sorting_requirements,
                    'cryoet': cryoet_requirements + dask_requirements,
                    'experiments': dask_requirements + sorting_requirements + cryoet_requirements,
                    'dev': dask_requirements + sorting_requirements + cryoet_requirements + dev_requirements},
    dependency_links=cfg.get('dep_links', '').split(),
    python_requires='>=' + min_python,
    long_description=long_description,
    long_description_content_type='text/markdown',
    zip_safe=False,
    entry_points={'console_scripts': scripts, 'nbdev': [f'{cfg["lib_path"]}={cfg["lib_path"]}._modidx:d']},
    version=cfg['version'],
    description=cfg['description'],
    keywords=cfg['keywords'],
    author=cfg['author'],
    author_email=cfg['author_email'],
)
