"Shared by the bench scripts: what machine a measurement came from, and writing its JSON and markdown table."
import json
import platform
import time
from pathlib import Path

import torch


def machine_info(device: torch.device) -> dict:
    return dict(device=torch.cuda.get_device_name() if device.type == 'cuda' else f'{platform.machine()} CPU',
                threads=torch.get_num_threads(), torch=torch.__version__, date=time.strftime('%Y-%m-%d'))


def write_report(out: Path, stem: str, info: dict, data: dict, md_body: list, note: str = '') -> None:
    "Write `stem.json` (info + data) and `stem.md` (a provenance line, then `md_body`) into `out`, and print the table."
    out.mkdir(parents=True, exist_ok=True)
    (out / f'{stem}.json').write_text(json.dumps(dict(info=info, **data), indent=1))
    md = [f"Measured {info['date']} on {info['device']} ({info['threads']} threads), torch {info['torch']}.{' ' + note if note else ''}", '', *md_body]
    (out / f'{stem}.md').write_text('\n'.join(md) + '\n')
    print('\n'.join(md))
