"""The Segment widget's model-file choice, checked as the CLI checks it.

``retina-vessels segment --model FILE`` resolves the file and loads it
as a vessel model before any photo is read; the widget does the same
(once per chosen file) and shows the problem instead of starting a job
that would fail.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import _text as T


class ModelFileCheck:
    """Remembers the last file checked and what was found."""

    def __init__(self) -> None:
        self._path = ''
        self._error: str | None = None
        self._info: dict[str, Any] = {}

    def check(self, value: Any) -> tuple[str, str | None, str | None]:
        """(path, problem, note) for *value*, the text typed or chosen
        (a FileEdit's ``line_edit.value``: its ``value`` turns '' into
        the working folder).

        *path* is '' when no file is chosen; *problem* is the sentence
        to show when the file cannot be used (else None) and *note* the
        one saying which model will run.
        """
        from ...errors import RetinaVesselsError
        from ...weights import load_model

        path = str(value or '').strip()
        if not path:
            return '', None, None
        if path != self._path:
            self._path, self._error, self._info = path, None, {}
            if not Path(path).is_file():
                self._error = f'there is no file {path}'
            else:
                try:
                    _, self._info = load_model(
                        path, task='vessels', device='cpu'
                    )
                except (RetinaVesselsError, OSError) as err:
                    self._error = str(err).rstrip('.')
        if self._error is not None:
            return path, T.BAD_MODEL_FILE.format(reason=self._error), None
        note = T.MODEL_FILE_OK.format(
            name=self._info['name'], arch=self._info['arch']
        )
        return path, None, note
