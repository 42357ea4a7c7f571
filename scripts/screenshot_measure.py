"""Screenshot of the Measure widget and the calibre-coloured tree figure.

Segments the scikit-image sample photo (CC0) with the default vessel and
A/V models, docks the Measure widget, measures, and writes
``docs/images/measure_widget.png`` (the viewer) and
``docs/images/measures_calibre.png`` (segments coloured by calibre with
the optic disc and zones B and C). Run under a display::

    xvfb-run -a python scripts/screenshot_measure.py
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / 'docs' / 'images'
CACHE = Path('/tmp/nrv_sample_av.npz')


def sample_maps():
    """The sample photo and its A/V map (cached between runs)."""
    from skimage import data

    photo = data.retina()
    if CACHE.is_file():
        with np.load(CACHE) as z:
            return photo, z['av'], z['prob']
    import napari_retina_vessels as nrv

    seg = nrv.segment(photo, av=True, vessel_views=1, av_views=1)
    np.savez_compressed(CACHE, av=seg.artery_vein, prob=seg.probability)
    return photo, seg.artery_vein, seg.probability


def figure(photo, m, path: Path) -> None:
    """Segments coloured by calibre (µm) over the dimmed photo."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle

    labels = m.segment_map()
    cal = np.concatenate([[np.nan], m.segments['calibre_um'].to_numpy()])
    img = cal[labels]
    img[labels == 0] = np.nan
    fig, ax = plt.subplots(figsize=(7.5, 7), dpi=120)
    ax.imshow(photo.mean(axis=2), cmap='gray', alpha=0.5)
    finite = np.isfinite(cal)
    lo, hi = np.percentile(cal[finite], [2, 98])
    shown = ax.imshow(
        img, cmap='viridis', vmin=lo, vmax=hi, interpolation='nearest'
    )
    d = m.disc
    for k, colour in ((1, 'white'), (2, 'cyan'), (3, 'cyan'), (5, 'yellow')):
        ax.add_patch(
            Circle((d.x, d.y), k * d.radius, fill=False, color=colour, lw=1.2)
        )
    fig.colorbar(
        shown,
        ax=ax,
        fraction=0.046,
        pad=0.02,
        label='segment calibre (µm, disc assumed 1.8 mm)',
    )
    row = m.image.iloc[0]
    ax.set_title(
        f'CRAE {row["crae_um"]:.0f} µm, CRVE {row["crve_um"]:.0f}'
        f' µm, AVR {row["avr"]:.2f} (zone B between the cyan '
        'circles)',
        fontsize=9,
    )
    ax.axis('off')
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_retina_vessels._napari.launch import dock_layout
    from napari_retina_vessels._napari.layers import AV_COLORS
    from napari_retina_vessels._napari.widgets.measure import MeasureWidget

    photo, av, _prob = sample_maps()
    viewer = napari.Viewer()
    viewer.add_image(photo, name='retina')
    viewer.add_labels(
        av, name='retina artery/vein', colormap=AV_COLORS, opacity=0.6
    )
    viewer.window._qt_window.resize(1280, 800)  # a 1280 x 800 screen
    # the layout python -m napari_retina_vessels opens, Measure in front
    docked = dock_layout(viewer)
    dock, w = next((d, x) for d, x in docked if isinstance(x, MeasureWidget))
    w.maps.value = viewer.layers['retina artery/vein']
    w.photo.value = viewer.layers['retina']
    worker = w.run()
    t0 = time.time()
    while w._worker is not None and time.time() - t0 < 600:
        QApplication.processEvents()
        time.sleep(0.05)
    assert worker is not None and w.result is not None, w.status.value
    viewer.layers['retina artery/vein'].visible = False
    w.segment_table.native.setCurrentCell(0, 0)
    w.segment_table.native.clearSelection()
    viewer.layers['vessel segments'].show_selected_label = False
    dock.raise_()
    viewer.reset_view()
    for _ in range(20):
        QApplication.processEvents()
        time.sleep(0.05)
    IMAGES.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(IMAGES / 'measure_widget.png'), canvas_only=False)
    figure(photo, w.result, IMAGES / 'measures_calibre.png')
    print(
        w.result.image.iloc[0][
            [
                'crae_um',
                'crve_um',
                'avr',
                'crae_n',
                'crve_n',
                'disc_confidence',
            ]
        ].to_dict()
    )
    viewer.close()


if __name__ == '__main__':
    main()
