"""User-facing strings of the widgets: labels, tooltips, messages."""

IMAGE_TIP = 'Fundus photograph to segment (RGB or single channel).'
MODEL_TIP = ('Vessel model. "shipped" models work offline; others are '
             'downloaded once and cached.')
DEVICE_TIP = 'Where the network runs; auto picks a GPU when there is one.'
AV_TIP = 'Also classify vessel pixels as artery (red) or vein (blue).'
TTA_TIP = ('Test-time augmentation: average over flips. About 4x slower, '
           'slightly more accurate.')
THRESHOLD_TIP = ('Vessel probability cut-off. Moving it re-thresholds the '
                 'last result at once; the model is not run again.')
FOV_TIP = 'Also add the automatic field-of-view mask as a layer.'
RUN_TIP = 'Segment the selected image (runs in the background).'
CANCEL_TIP = 'Stop the running segmentation; no layer is added.'

NO_IMAGE = 'Open or select a fundus photograph (an image layer) first.'
BAD_LAYER = ('Layer {name!r} is {shape}: choose a 2-D photograph (H, W) or '
             '(H, W, 3).')
READY = 'Ready.'
RUNNING = 'Segmenting {name}...'
CANCELLED = 'Cancelled; no layers were changed.'
DONE = ('{name}: {seconds:.2f} s on {device} with {model}; vessel density '
        '{density:.1%} of the FOV.')
RETHRESHOLDED = 'Threshold {thr:.2f}: vessel density {density:.1%}.'
