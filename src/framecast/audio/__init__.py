"""Sound for the videos: the preset music library (``synth``), choosing a track by mood (``moods``),
fitting, loudness and muxing (``mix``) and the per-task decision (``soundtrack``)."""
