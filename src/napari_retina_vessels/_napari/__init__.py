"""The napari layer: the only place napari, magicgui or qtpy is imported.

``napari.yaml`` (the npe2 manifest) points straight at the modules here:
``reader``, ``sample_data`` and ``widgets.*``. ``layers`` turns core
results into napari layer-data tuples without importing napari,
``console`` adds them to a viewer, ``launch`` starts napari for
``python -m napari_retina_vessels``. Everything here calls the core; the
core never imports this package.
"""
