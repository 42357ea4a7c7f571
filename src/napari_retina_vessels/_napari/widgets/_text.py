"""User-facing strings of the widgets: labels, tooltips, messages."""

IMAGE_TIP = 'Fundus photograph to segment (RGB or single channel).'
MODEL_TIP = (
    'Vessel model. "shipped" models work offline; others are '
    'downloaded once and cached.'
)
MODEL_FILE_TIP = (
    'A vessel model of your own: a .pt file made by "retina-vessels '
    'train". When set, it is used instead of the model above; clear '
    'it to go back.'
)
MODEL_FILE_OK = 'Model file {name} ({arch}) will be used.'
BAD_MODEL_FILE = 'Cannot use the model file: {reason}.'
DEVICE_TIP = 'Where the network runs; auto picks a GPU when there is one.'
AV_TIP = 'Also classify vessel pixels as artery (red) or vein (blue).'
VIEWS_TIP = (
    'Flip views both stages average: 1 is fastest, 2 the photo '
    'and its mirror image (default), 4 adds the up-down mirrors '
    '(about 2x slower, slightly more accurate).'
)
PRECISION_TIP = (
    'Arithmetic of the networks. auto: bf16 on a GPU and on CPUs '
    'that compute it natively (about 1.7x faster there, the same '
    'accuracy figures), fp32 elsewhere; fp32: exact float32 '
    'everywhere; bf16, fp16: forced (fp16 on a GPU).'
)
ENGINE_TIP = (
    'Inference engine. auto: OpenVINO on the CPU when it is installed '
    '(int8 networks under arithmetic auto, about 1.7x faster), torch '
    'on a GPU and for weights without converted files; torch or '
    'openvino force one.'
)
CONTRAST_VIEW_TIP = (
    "The A/V stage's second view. auto (default): the mirror image of "
    'the CLAHE-equalised photo for a photo unlike the training photos '
    '(another camera, hazy or low contrast), of the photo itself '
    'otherwise. clahe: the equalised view for every photo (a little '
    'worse on clean photos of the training cameras). none: always the '
    'mirror image of the photo (see docs/results.md).'
)
THRESHOLD_TIP = (
    'Vessel probability cut-off. Moving it re-thresholds the '
    'last result where the slider stops; the model is not run again.'
)
ARTERY_PROB_TIP = (
    'Also add the probability that each vessel pixel is an '
    'artery (red) rather than a vein (blue); white is '
    'undecided.'
)
FOV_TIP = 'Also add the automatic field-of-view mask as a layer (an outline).'
KEEP_TIP = (
    'Keep the layers of earlier runs: new layers are named with '
    'the model and threshold instead of replacing the old ones.'
)
SAVE_FOLDER_TIP = 'Folder Save results writes into.'
SAVE_TIP = (
    'Write the last result as retina-vessels segment does: '
    'NAME_prob.png, NAME_vessels.png, NAME_av.png, '
    'NAME_av_overlay.png and NAME.done.json.'
)
RUN_TIP = 'Segment the selected image (runs in the background).'
CANCEL_TIP = 'Stop the running segmentation; no layer is added.'

NO_IMAGE = 'Open or select a fundus photograph (an image layer) first.'
BAD_LAYER = 'Cannot segment this layer: {reason}.'
READY = 'Ready.'
RUNNING = 'Segmenting {name}...'
CANCELLED = 'Cancelled; no layers were changed.'
DONE = (
    '{name}{frames}: {seconds:.2f} s on {device} with {model}; vessel '
    'density {density:.1%} of the FOV.'
)
FRAMES = ' ({n} frames)'
UNGRADABLE = (
    '{name} is ungradable ({reasons}): its vessel map is not a '
    'result, so no layers were added. Check that it is a colour '
    'fundus photograph in focus and well exposed.'
)
USABLE = ' Quality: usable, but {reasons}.'
FRAME_STAGE = 'frame {i}/{n}: {stage}'
NOTHING_TO_SAVE = 'Nothing to save yet: press Segment first.'
CHOOSE_FOLDER = 'Choose a folder to save into first.'
SAVED = 'Saved {n} files into {folder}.'
SAVE_FAILED = 'Could not save into {folder}: {reason}.'
RETHRESHOLDED = 'Threshold {thr:.2f}: vessel density {density:.1%}.'
# Notifications: one line that fits napari's 400-px notification (the
# whole sentence stays in the widget's status line).
NOTE_CHARS = 48
DONE_NOTE = 'Segmented {name} in {seconds:.1f} s.'
USABLE_NOTE = 'Segmented {name}: only usable.'
UNGRADABLE_NOTE = '{name} is ungradable: no layers added.'
SAVED_NOTE = 'Saved {n} files.'
SAVE_FAILED_NOTE = 'Could not save: see the Segment widget.'


def short_name(name: str, chars: int = 16) -> str:
    """*name* cut to *chars* characters (an ellipsis marks the cut),
    so that a notification naming it stays one line."""
    return name if len(name) <= chars else name[: chars - 1] + '…'

# ---------------------------------------------------------- metrics widget
PRED_TIP = (
    'Prediction to score: a probability map (image layer, values '
    'in [0, 1] or 8/16-bit) or a binary / artery-vein labels '
    'layer.'
)
TRUTH_TIP = (
    'Ground truth: vessel labels (non-zero = vessel) or '
    'artery/vein labels (1 artery, 2 vein, 3 uncertain).'
)
MASK_TIP = 'Optional field-of-view mask; pixels outside are ignored.'
METRIC_THRESHOLD_TIP = (
    'Probability cut-off for the binary metrics and '
    'the error overlay (>= threshold is vessel).'
)
COMPUTE_TIP = (
    'Score the prediction and add the error overlay layer (TP, FP, FN).'
)
COPY_TIP = 'Copy the table to the clipboard (tab-separated).'
CSV_TIP = 'Where Export CSV writes the table.'
EXPORT_TIP = 'Write the table to the CSV file chosen above.'

NEED_LAYERS = 'Choose a prediction layer and a ground-truth layer.'
SAME_LAYER = 'The prediction and the ground truth are the same layer.'
NOT_2D = 'Layer {name!r} has shape {shape}: choose a 2-D single-channel layer.'
SHAPE_MISMATCH = (
    '{what} {name!r} is {w} x {h} but the prediction {pred!r} '
    'is {pw} x {ph}: choose layers of the same size.'
)
READY_METRICS = 'Ready: press Compute.'
COMPUTED = '{name}: {n:,} pixels scored in {ms:.0f} ms; overlay {overlay!r}.'
COMPUTED_AV = (
    '{name}: artery/vein on {n:,} labelled pixels in {ms:.0f} '
    'ms; overlay {overlay!r}.'
)
NOTHING_TO_EXPORT = 'Nothing to export yet: press Compute first.'
CHOOSE_CSV = 'Choose a CSV file name first.'
COPIED = 'Copied {n} rows to the clipboard.'
EXPORTED = 'Wrote {path}.'
EXPORT_FAILED = 'Could not write {path}: {reason}.'

# -- Measure widget ----------------------------------------------------------
MEASURE_MAP_TIP = (
    'Vessel map to measure: binary vessels, artery/vein '
    'labels (CRAE, CRVE and AVR need these) or a '
    'probability map (vessels where >= 0.5).'
)
MEASURE_PHOTO_TIP = (
    'The photo, if open: it helps find the optic disc and the field of view.'
)
PIXEL_SIZE_TIP = (
    'Micrometres per pixel; 0 takes it from the layer (a DICOM '
    'PixelSpacing, or a layer scale other than 1, read as µm), else '
    'from the optic disc, assumed 1.8 mm across.'
)
USE_DISC_TIP = (
    'Measure around the disc in the "optic disc" layer and from the '
    'point in the "fovea" layer: move or resize them, then Measure '
    'again. Untick (or delete the layers) to find both automatically.'
)
COLOUR_BY_TIP = 'Colour the segments by calibre, tortuosity or class.'
MEASURE_UNGRADABLE_TIP = (
    'Also measure a map whose photo the quality gate graded '
    'ungradable (blank, badly exposed, not a fundus photo): its '
    'numbers may look like data without being data.'
)
MEASURE_TIP = 'Measure the selected map (runs in the background).'
MEASURE_CSV_TIP = 'Folder that Export CSV writes measures.csv into.'
MEASURE_EXPORT_TIP = (
    'Write measures.csv (one row) and segments.csv (one '
    'row per segment) into the CSV folder.'
)
MEASURE_READY = 'Ready to measure.'
MEASURE_NEED_MAP = (
    'Open or select a vessel or artery/vein map (a Labels '
    'or single-channel Image layer) first.'
)
MEASURE_PHOTO_SIZE = (
    'The photo {photo!r} is {pw} x {ph} but the map '
    '{map!r} is {w} x {h}; choose the photo this map was '
    'made from.'
)
MEASURE_UNGRADABLE = (
    '{name} comes from a photo graded ungradable ({reasons}), so it '
    'is not measured: its numbers would not be data. Tick "measure '
    'ungradable photos" to measure it anyway.'
)
MEASURED_UNGRADABLE = ' The photo is graded ungradable ({reasons}).'
MEASURING = 'Measuring {name}...'
MEASURED = (
    '{name}: {n} segments measured in {s:.2f} s; AVR {avr}. Move '
    'the optic disc and Measure again to change zone B.'
)
MEASURE_NOTHING = 'Measure first; there is nothing to export yet.'
MEASURE_NO_FOLDER = 'Choose a CSV folder first.'
MEASURE_WRITE_FAILED = 'Cannot write into {folder} ({err}); choose another.'
MEASURE_EXPORTED = 'Wrote measures.csv and segments.csv into {folder}.'

# Corrections (the Measure widget's grader panel).
CORRECT_CLICK_TIP = (
    'What a click on a vessel segment does: flip it between artery and '
    'vein, exclude it from CRAE, CRVE and tortuosity, or undo its '
    'correction. Changed segments are drawn orange (now artery), cyan '
    '(now vein) or grey (excluded).'
)
GRADER_TIP = "The grader's initials, saved with the corrections."
PAINT_TIP = (
    'Add a "vessel corrections" layer and paint on it: label 1 adds '
    'vessel pixels, label 2 erases them. The maps are measured again '
    'after each stroke.'
)
SAVE_CORRECTIONS_TIP = (
    'Write NAME.corrections.json (and NAME.painted.png) beside the '
    'segment outputs the map was opened from, or into the CSV folder; '
    'retina-vessels measure --corrections applies them again.'
)
CORRECTIONS_NONE = 'No corrections.'
CORRECTIONS_COUNT = '{n} correction(s).'
CORRECTIONS_SAVED = 'Corrections saved: {path}'
CORRECTIONS_NO_FOLDER = (
    'Choose a CSV folder to save the corrections in (maps opened from '
    'retina-vessels segment outputs save beside them).'
)
CORRECT_MISSED = 'No segment there: click on a coloured vessel segment.'
PAINT_HINT = (
    'Paint with label 1 to add vessel pixels, label 2 to erase them; the '
    'maps are measured again after each stroke.'
)

# Review widget.
REVIEW_FOLDER_TIP = (
    'A retina-vessels segment (or measure) output folder; review.csv is '
    'kept in it.'
)
REVIEW_REASON_TIP = (
    'Why the photo is rejected (needed) or any note on an accepted one; '
    'recorded in review.csv.'
)
REVIEW_READY = 'Choose an output folder and press Open.'
REVIEW_OPEN = 'Not reviewed yet: Accept or Reject (with a reason).'
REVIEW_DECIDED = 'Reviewed: {decision} ({reason}); a new decision replaces it.'
REVIEW_POSITION = '{i} / {n}: {name} ({done} reviewed)'
REVIEW_FINISHED = 'Last photo reviewed; decisions are in {path}.'
