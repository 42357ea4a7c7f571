"""Combine trained networks of one architecture into one weights file.

Two ways, both giving an ordinary weights dictionary:

* :func:`combine`: an ensemble. The members see the same input; the
  prediction is the mean of their last outputs' logits. Members trained
  from different seeds make different mistakes, so the mean usually ranks
  pixels a little better than its members (for the default W-Net, by
  0.0002 validation AUC: see docs/results.md), at the cost of one forward
  pass per member.
* :func:`average`: a weight average ("model soup", Wortsman et al. 2022).
  For networks fine-tuned from one starting point, which stay in one basin
  of the loss, the mean of their parameters is itself a good network, and
  it costs one forward pass like any member.

``scripts/make_ensemble.py`` runs both; the ensemble network itself is
:class:`napari_retina_vessels.models.ensemble.Ensemble`.
"""

from __future__ import annotations

from typing import Any

import torch


def _check_members(files: list[dict[str, Any]]) -> dict[str, Any]:
    """The first member; ValueError unless all are alike."""
    if not files:
        raise ValueError('no members given')
    first = files[0]
    for f in files[1:]:
        if (
            f['arch'],
            f.get('arch_kwargs'),
            f.get('task'),
            f.get('input', 'global'),
        ) != (
            first['arch'],
            first.get('arch_kwargs'),
            first.get('task'),
            first.get('input', 'global'),
        ):
            raise ValueError(
                'ensemble members must share architecture, '
                'widths, task and input normalisation'
            )
    return first


def combine(files: list[dict[str, Any]]) -> dict[str, Any]:
    """One weights dictionary from the weights dictionaries of members.

    Every member must have the same architecture, widths, task and input
    normalisation.
    """
    first = _check_members(files)
    state = {
        f'members.{i}.{k}': v
        for i, f in enumerate(files)
        for k, v in f['state_dict'].items()
    }
    return {
        'arch': 'ensemble',
        'arch_kwargs': {
            'member': first['arch'],
            'n': len(files),
            **dict(first.get('arch_kwargs') or {}),
        },
        'task': first.get('task', 'vessels'),
        'input': first.get('input', 'global'),
        'state_dict': state,
        'meta': {'members': [dict(f.get('meta') or {}) for f in files]},
    }


def average(files: list[dict[str, Any]]) -> dict[str, Any]:
    """One weights dictionary whose parameters are the members' mean.

    Every floating-point tensor (weights, biases and BatchNorm running
    statistics) is averaged; integer counters are taken from the first
    member. The members must be alike as for :func:`combine`, and should
    be fine-tuned from one starting point: averaging independently
    initialised networks gives a useless one.
    """
    first = _check_members(files)
    keys = list(first['state_dict'])
    for f in files[1:]:
        if list(f['state_dict']) != keys:
            raise ValueError('members have different parameters')
    state = {}
    for k in keys:
        ts = [f['state_dict'][k] for f in files]
        if ts[0].is_floating_point():
            state[k] = (
                torch.stack([t.float() for t in ts]).mean(0).to(ts[0].dtype)
            )
        else:
            state[k] = ts[0].clone()
    return {
        'arch': first['arch'],
        'arch_kwargs': first.get('arch_kwargs'),
        'task': first.get('task', 'vessels'),
        'input': first.get('input', 'global'),
        'state_dict': state,
        'meta': {'average_of': [dict(f.get('meta') or {}) for f in files]},
    }
