"""napari widgets (the only Qt/magicgui code besides the reader)."""
