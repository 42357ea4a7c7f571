"""Layout pieces that let the plugin's docks fit a 1280 x 800 screen.

Every widget calls :func:`fit_dock` once built: choice boxes and path
fields stop asking for the width of their longest entry, and results
tables ask for :data:`TABLE_ROWS` rows. The widgets are scrollable, so
a tall dock scrolls instead of growing the window. :func:`section` is a
collapsible group of options and :class:`Undockable` moves a table into
a window of its own and back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from magicgui.widgets import Container, PushButton

if TYPE_CHECKING:  # pragma: no cover
    from magicgui.widgets import Widget

__all__ = [
    'DOCK_WIDTH',
    'TABLE_ROWS',
    'Undockable',
    'fit_dock',
    'section',
    'table_height',
]

#: Width (px) the launcher gives the plugin's dock: with napari's layer
#: list on the left, the canvas keeps at least half of a 1280-px window.
DOCK_WIDTH = 290
#: Rows a results table shows without scrolling.
TABLE_ROWS = 8
#: Characters a choice box shows before it elides its entry.
CHOICE_CHARS = 6
#: Narrowest a path field may get (px).
PATH_MIN_WIDTH = 60


def table_height(table: Any, rows: int = TABLE_ROWS) -> int:
    """Height (px) that shows the header and *rows* rows of a
    ``QTableWidget``."""
    header = table.horizontalHeader().sizeHint().height()
    row = table.verticalHeader().defaultSectionSize()
    return header + rows * row + 2 * table.frameWidth() + 2


def fit_dock(widget: Widget, *, rows: int = TABLE_ROWS) -> None:
    """Make *widget* narrow enough for a dock beside the canvas.

    Choice boxes show :data:`CHOICE_CHARS` characters (the full entry
    in their list and tooltip), path fields and their buttons shrink,
    and each table keeps room for *rows* rows.
    """
    from qtpy.QtWidgets import (
        QAbstractSpinBox,
        QComboBox,
        QLabel,
        QLineEdit,
        QPushButton,
        QSizePolicy,
        QTableWidget,
    )

    native = widget.native
    policy = QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
    for box in native.findChildren(QComboBox):
        box.setSizeAdjustPolicy(policy)
        box.setMinimumContentsLength(CHOICE_CHARS)
        box.setSizePolicy(
            QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed
        )
    for edit in native.findChildren(QLineEdit):
        if not isinstance(edit.parent(), QAbstractSpinBox | QComboBox):
            edit.setMinimumWidth(PATH_MIN_WIDTH)
    for label in native.findChildren(QLabel):
        if label.wordWrap():  # a sentence wraps to the dock's width
            label.setMinimumWidth(PATH_MIN_WIDTH)
            label.setSizePolicy(
                QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred
            )
    for button in native.findChildren(QPushButton):
        if button.text() in ('Choose directory', 'Select file', 'Choose file'):
            button.setText('Browse...')
    for table in native.findChildren(QTableWidget):
        table.setMinimumHeight(table_height(table, rows))
        table.setMinimumWidth(0)
    _scroll(native)


def _scroll(native: Any) -> None:
    """Put *native*'s contents in a vertical scroll area.

    napari docks a magicgui widget's ``native`` (not magicgui's own
    scroll area), so the layout moves into a scrolled body here; the
    widget keeps adding to that same layout. A short screen then
    scrolls the dock instead of growing the window.
    """
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import (
        QFrame,
        QScrollArea,
        QSizePolicy,
        QVBoxLayout,
        QWidget,
    )

    layout = native.layout()
    layout.setContentsMargins(4, 4, 4, 4)
    for inner in native.findChildren(QWidget):
        if inner.layout() is not None and inner.objectName().startswith(
            'magicgui'
        ):
            inner.layout().setContentsMargins(0, 0, 0, 0)
    body = QWidget()
    body.setLayout(layout)  # Qt takes the layout and its widgets over
    expanding = (
        QSizePolicy.Policy.Expanding,
        QSizePolicy.Policy.MinimumExpanding,
    )
    grows = any(
        w.sizePolicy().verticalPolicy() in expanding
        for w in body.findChildren(QWidget)
        if w.parentWidget() is body
    )
    if not grows:  # keep the controls at the top
        layout.addStretch()
    area = QScrollArea()
    area.setObjectName('retina_vessels_scroll')
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
    area.setWidget(body)
    outer = QVBoxLayout(native)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.addWidget(area)
    # Expanding: napari adds no stretch under it; the area takes the
    # dock's height and scrolls what does not fit.
    native.setSizePolicy(
        QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding
    )


def section(title: str, *widgets: Widget, expanded: bool = False):
    """A collapsible group: a toggle button over a labelled form.

    Returns
    -------
    (PushButton, Container)
        Add both to the widget; the button shows and hides the form.
    """
    body = Container(labels=True, widgets=list(widgets))
    toggle = PushButton(text='')
    # magicgui reports visible=False until the dock is shown, so the
    # state lives here, not in body.visible.
    state = {'open': expanded}

    def show(on: bool) -> None:
        state['open'] = on
        body.visible = on
        toggle.text = f'{"▾" if on else "▸"} {title}'

    toggle.changed.connect(lambda _v=None: show(not state['open']))
    show(expanded)
    return toggle, body


class Undockable:
    """A widget (a results table) that can leave its dock for a window
    of its own and come back when that window is closed.

    Parameters
    ----------
    content : magicgui Widget
        Already placed in its dock; it stays the same object.
    title : str
        The window's title.
    """

    def __init__(self, content: Widget, title: str) -> None:
        self.content = content
        self.title = title
        self.button = PushButton(
            text='Open tables in a window',
            tooltip='Show the tables in a window of their own, as large '
            'as you like; close that window to put them back here.',
        )
        self.button.changed.connect(self.toggle)
        self._home: tuple[Any, int] | None = None
        self._filter = None

    @property
    def undocked(self) -> bool:
        return self._home is not None

    def toggle(self, _value=None) -> None:
        if self.undocked:
            self.dock()
        else:
            self.undock()

    def undock(self) -> None:
        """Move the content into a top-level window."""
        from qtpy.QtCore import QEvent, QObject, Qt

        if self.undocked:
            return
        native = self.content.native
        parent = native.parentWidget()
        layout = parent.layout() if parent is not None else None
        index = layout.indexOf(native) if layout is not None else -1
        self._home = (layout, index)
        native.setParent(None)
        native.setWindowFlag(Qt.WindowType.Window, True)
        native.setWindowTitle(self.title)
        native.resize(max(native.width(), 480), max(native.height(), 420))

        owner = self

        class _CloseToDock(QObject):
            def eventFilter(self, obj, event):  # noqa: N802 - Qt's name
                if event.type() == QEvent.Type.Close:
                    event.ignore()
                    owner.dock()
                    return True
                return False

        self._filter = _CloseToDock(native)
        native.installEventFilter(self._filter)
        native.show()
        self.button.text = 'Put the tables back'

    def dock(self) -> None:
        """Put the content back where it was."""
        from qtpy.QtCore import Qt

        if not self.undocked:
            return
        layout, index = self._home
        self._home = None
        native = self.content.native
        if self._filter is not None:
            native.removeEventFilter(self._filter)
            self._filter = None
        native.hide()
        native.setWindowFlag(Qt.WindowType.Window, False)
        if layout is not None:
            layout.insertWidget(index, native)
        native.show()
        self.button.text = 'Open tables in a window'
