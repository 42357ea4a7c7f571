"""User-facing strings of the widgets: labels, tooltips, messages."""

IMAGE_TIP = 'Fundus photograph to segment (RGB or single channel).'
MODEL_TIP = ('Vessel model. "shipped" models work offline; others are '
             'downloaded once and cached.')
DEVICE_TIP = 'Where the network runs; auto picks a GPU when there is one.'
AV_TIP = 'Also classify vessel pixels as artery (red) or vein (blue).'
VIEWS_TIP = ('Flip views both stages average: 1 is fastest, 2 the photo '
             'and its mirror image (default), 4 adds the up-down mirrors '
             '(about 2x slower, slightly more accurate).')
THRESHOLD_TIP = ('Vessel probability cut-off. Moving it re-thresholds the '
                 'last result at once; the model is not run again.')
ARTERY_PROB_TIP = ('Also add the probability that each vessel pixel is an '
                   'artery (red) rather than a vein (blue); white is '
                   'undecided.')
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

# ---------------------------------------------------------- metrics widget
PRED_TIP = ('Prediction to score: a probability map (image layer, values '
            'in [0, 1] or 8/16-bit) or a binary / artery-vein labels '
            'layer.')
TRUTH_TIP = ('Ground truth: vessel labels (non-zero = vessel) or '
             'artery/vein labels (1 artery, 2 vein, 3 uncertain).')
MASK_TIP = 'Optional field-of-view mask; pixels outside are ignored.'
METRIC_THRESHOLD_TIP = ('Probability cut-off for the binary metrics and '
                        'the error overlay (>= threshold is vessel).')
COMPUTE_TIP = ('Score the prediction and add the error overlay layer '
               '(TP, FP, FN).')
COPY_TIP = 'Copy the table to the clipboard (tab-separated).'
CSV_TIP = 'Where Export CSV writes the table.'
EXPORT_TIP = 'Write the table to the CSV file chosen above.'

NEED_LAYERS = 'Choose a prediction layer and a ground-truth layer.'
SAME_LAYER = 'The prediction and the ground truth are the same layer.'
NOT_2D = ('Layer {name!r} has shape {shape}: choose a 2-D single-channel '
          'layer.')
SHAPE_MISMATCH = ('{what} {name!r} is {w} x {h} but the prediction {pred!r} '
                  'is {pw} x {ph}: choose layers of the same size.')
READY_METRICS = 'Ready: press Compute.'
COMPUTED = ('{name}: {n:,} pixels scored in {ms:.0f} ms; overlay '
            '{overlay!r}.')
COMPUTED_AV = ('{name}: artery/vein on {n:,} labelled pixels in {ms:.0f} '
               'ms; overlay {overlay!r}.')
NOTHING_TO_EXPORT = 'Nothing to export yet: press Compute first.'
CHOOSE_CSV = 'Choose a CSV file name first.'
COPIED = 'Copied {n} rows to the clipboard.'
EXPORTED = 'Wrote {path}.'
EXPORT_FAILED = 'Could not write {path}: {reason}.'
