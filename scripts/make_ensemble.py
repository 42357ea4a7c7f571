"""Combine trained weights files of one architecture into one file.

Usage: python scripts/make_ensemble.py [--average] OUT.pt MEMBER.pt [...]

Without ``--average`` the result is an ensemble (architecture
``ensemble``: one forward pass per member, logits averaged). With
``--average`` it is a weight average of the members ("model soup"): the
members' architecture, one forward pass; use it for runs fine-tuned from
one starting point. Either way it is an ordinary weights file that
``--model OUT.pt`` and the registry load like any other; publish it with
scripts/publish_weights.py.
"""

from __future__ import annotations

import sys

import torch

from napari_retina_vessels.training.ensemble import average, combine


def main(out: str, *members: str, soup: bool = False) -> None:
    files = [
        torch.load(m, map_location='cpu', weights_only=True) for m in members
    ]
    if soup:
        data = average(files)
        print(
            f'{out}: weight average of {len(files)} x {data["arch"]} '
            f'{data["arch_kwargs"]}'
        )
    else:
        data = combine(files)
        print(f'{out}: {data["arch_kwargs"]["n"]} x {data["arch_kwargs"]}')
    torch.save(data, out)


if __name__ == '__main__':
    args = sys.argv[1:]
    soup = '--average' in args
    args = [a for a in args if a != '--average']
    if len(args) < 2:
        sys.exit(__doc__)
    main(args[0], *args[1:], soup=soup)
