"""napari widgets: Segment and Metrics (magicgui containers)."""
