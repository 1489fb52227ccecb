"""What the command-line tests share: the `gss` command, a run of it, a run killed mid-way, and a CSV without its
timing columns (the numbers a resumed run must reproduce)."""
import csv
import shutil
import signal
import subprocess
import sys
import time

GSS = [shutil.which('gss')] if shutil.which('gss') else [sys.executable, '-c',
                                                         'import sys; from gss_nbdev.cli import main; sys.exit(main())']


def gss(*args, timeout=600):
    "Run `gss ARGS…` to the end; its CompletedProcess (text stdout and stderr)."
    return subprocess.run([*GSS, *args], capture_output=True, text=True, timeout=timeout)


def kill_when(args, log, lines, timeout=300, poll=0.05):
    """Start `gss ARGS…`, SIGKILL it once the file `log` has at least `lines` lines (or after `timeout` seconds), and
    wait for it: a run interrupted with no chance to clean up."""
    p = subprocess.Popen([*GSS, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout and (not log.exists() or len(log.read_text().splitlines()) < lines):
        time.sleep(poll)
    p.send_signal(signal.SIGKILL); p.wait()


def strip_csv(path, drop=()):
    "The rows of a CSV as dicts, without the columns in `drop` (timings, which differ between runs)."
    with open(path, newline='') as f: return [{k: v for k, v in r.items() if k not in drop} for r in csv.DictReader(f)]
