"""`sharpeyes eval`: the production detection pipeline run over labelled media, scored.

Lives in the composition-root layer because it wires cameras, detectors and rules exactly as
:mod:`sharpeyes.video` does; the scoring itself (:mod:`.metrics`) is pure and knows nothing of models.
"""
