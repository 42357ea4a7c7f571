"""Combine trained weights files of one architecture into an ensemble.

Usage: python scripts/make_ensemble.py OUT.pt MEMBER.pt [MEMBER.pt ...]

The result is an ordinary weights file (architecture ``ensemble``) that
``--model OUT.pt`` and the registry load like any other; publish it with
scripts/publish_weights.py.
"""

from __future__ import annotations

import sys

import torch

from napari_retina_vessels.models.ensemble import combine


def main(out: str, *members: str) -> None:
    files = [torch.load(m, map_location='cpu', weights_only=True)
             for m in members]
    data = combine(files)
    torch.save(data, out)
    print(f'{out}: {data["arch_kwargs"]["n"]} x {data["arch_kwargs"]}')


if __name__ == '__main__':
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], *sys.argv[2:])
