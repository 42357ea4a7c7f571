"""The training curve: loss and validation score per step, as a PNG."""

from __future__ import annotations

import csv
from pathlib import Path


def plot_curve(log_path: Path, png: Path) -> None:
    """The training curve of *log_path* (loss and validation per step) as
    *png*; nothing when matplotlib is missing or the log is empty."""
    try:
        import matplotlib

        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        return
    with open(log_path, newline='') as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return
    steps = [int(r['step']) for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(steps, [float(r['loss']) for r in rows], label='train loss')
    ax.set_xlabel('step')
    ax.set_ylabel('loss')
    ax2 = ax.twinx()
    ax2.plot(steps, [float(r['val']) for r in rows], 'C1', label='val')
    ax2.set_ylabel('validation (AUC or A/V accuracy)')
    fig.legend(loc='upper center', ncol=2)
    fig.tight_layout()
    fig.savefig(png, dpi=80)
    plt.close(fig)
