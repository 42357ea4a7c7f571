"""The tie-break table of ``scripts/measures_loco.py fovea``."""

from script_modules import script


def _script():
    return script('measures_loco')


def test_tie_breaks_choose_on_the_others_and_show_the_tied_range():
    # Errors in disc radii per (camera, weights). With C left out, weights
    # 0 and 1 tie on A and B (all within one radius); only 0 keeps C.
    errs = {
        ('A', 0): [0.2, 0.2],
        ('A', 1): [0.8, 0.8],
        ('A', 2): [0.8, 2.0],
        ('B', 0): [0.4, 0.9],
        ('B', 1): [0.3, 0.3],
        ('B', 2): [0.3, 0.3],
        ('C', 0): [0.2, 0.2],
        ('C', 1): [2.0, 2.0],
        ('C', 2): [0.2, 0.2],
    }
    rows = _script().tie_breaks(errs, ['A', 'B', 'C'], [0, 1, 2])
    cells = {r.split(' | ')[0][2:]: r.split(' | ') for r in rows[2:5]}
    mean = cells['mean share over the cameras (in use)']
    # The middle of the tie [0, 1] is 1, which misses C.
    assert mean[3] == '0% (0/2; 2 tied: 0%-100%)'
    assert mean[4] == '0% |'
    # Both other criteria prefer 0 (A's errors are far smaller and B
    # has one within half a radius) and keep C.
    for name in ('worst median error', 'worst share within half a radius'):
        assert cells[name][3] == '100% (2/2; 1 tied: 100%-100%)'
