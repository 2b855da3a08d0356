"""The preset library and the mood choice: distinct, loopable, deterministic tracks picked by words."""

from __future__ import annotations

import numpy as np
import pytest

from framecast.audio import moods, synth


def test_at_least_eight_distinct_moods() -> None:
    assert len(synth.TRACKS) >= 8
    assert {"calm", "upbeat", "cinematic", "playful", "tense"} <= set(synth.TRACKS)
    # told apart by ear, not only by name: tempo, mode or instruments differ for every pair
    fingerprints = {
        (t.bpm, t.scale, t.progression, bool(t.kick), bool(t.arp), bool(t.pad)) for t in synth.TRACKS.values()
    }
    assert len(fingerprints) == len(synth.TRACKS)


@pytest.mark.parametrize("name", sorted(synth.TRACKS))
def test_tracks_are_stereo_whole_bars_and_loop_without_a_click(name: str) -> None:
    track = synth.TRACKS[name]
    samples = synth.render(name)
    assert samples.dtype == np.float32 and samples.shape[1] == 2
    assert synth.SAMPLE_RATE in (44_100, 48_000)
    assert len(samples) == round(track.loop_seconds * synth.SAMPLE_RATE)
    assert 0.99 <= float(np.abs(samples).max()) <= 1.0
    assert float(np.sqrt((samples**2).mean())) > 0.03  # not near-silence
    # the seam of the loop is no bigger a jump than the track makes between neighbouring samples anyway
    steps = np.abs(np.diff(samples, axis=0)).max()
    seam = np.abs(samples[0] - samples[-1]).max()
    assert seam <= steps


def test_same_name_same_samples_and_callers_cannot_change_the_library() -> None:
    a = synth.render("calm")
    a[:] = 0
    b = synth.render("calm")
    assert np.abs(b).max() > 0.5
    assert np.array_equal(b, synth.render("calm"))


def test_unknown_track_names_the_presets() -> None:
    with pytest.raises(KeyError, match="calm"):
        synth.render("polka")


@pytest.mark.parametrize(
    ("prompt", "mood"),
    [
        ("A calm lake at dawn, gentle breeze", "calm"),
        ("Happy kids celebrating at a summer party", "upbeat"),
        ("Epic aerial shot over the mountains", "cinematic"),
        ("a cute puppy bouncing around", "playful"),
        ("A dark corridor, suspense, something creepy in the shadows", "tense"),
        ("She walks alone in the rain, tears on her face", "sad"),
        ("A couple kisses at sunset, romantic", "romantic"),
        ("Racing cars speeding through the city, action", "energetic"),
        ("平静的湖面，微风拂过", "calm"),
        ("一只可爱的小猫在玩耍", "playful"),
        ("恐怖的黑暗走廊，气氛紧张", "tense"),
        ("夕阳下的浪漫婚礼", "romantic"),
        ("赛车在赛道上高速奔跑", "energetic"),
    ],
)
def test_mood_words_pick_the_mood(prompt: str, mood: str) -> None:
    choice = moods.choose(prompt, seed=0)
    assert choice.mood == mood, choice
    assert "mood words" in choice.reason


def test_whole_words_only() -> None:
    # "cat" is a playful word, but not inside "category" or "scatter"
    assert "no mood word" in moods.choose("a category of scattered objects", seed=3).reason


def test_no_mood_word_falls_back_on_the_seed_deterministically() -> None:
    picks = {seed: moods.choose("a red box on a table", seed).mood for seed in range(40)}
    assert picks == {seed: moods.choose("a red box on a table", seed).mood for seed in range(40)}
    assert set(picks.values()) == set(synth.TRACKS)  # every track is reachable
    assert "seed 7" in moods.choose("a red box on a table", 7).reason


def test_the_mood_with_more_words_wins_and_ties_go_to_the_first_named() -> None:
    assert (
        moods.choose("a happy dog", seed=0).mood == "upbeat"
    )  # happy (upbeat) is named before dog (playful)
    assert moods.choose("a happy dog and a cute kitten", seed=0).mood == "playful"  # 3 playful words to 1
