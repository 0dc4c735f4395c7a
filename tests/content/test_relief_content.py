"""The relief routines in content/relief/: valid, sourced, enough for every body region."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bot.content import CONTENT_DIR, load_content
from bot.domain.relief import Library, RoutineError, load_library, timer_done_message, timer_message
from bot.domain.sources import load_sources, source_ids
from bot.telegram.callbacks import CallbackCodec

RELIEF_DIR = CONTENT_DIR / "relief"
CONTENT = load_content()
REGIONS = [c.id for c in CONTENT.vocabulary.regions]
SOURCES = load_sources(CONTENT_DIR / "sources.yaml")


@pytest.fixture(scope="module")
def library() -> Library:
    return load_library(RELIEF_DIR, REGIONS, SOURCES)


def test_every_routine_file_validates(library: Library) -> None:
    files = sorted(RELIEF_DIR.glob("*.yaml"))
    assert len(library.routines) == len(files) >= 10
    assert {r.id for r in library.routines} == {f.stem for f in files}


def test_every_region_has_at_least_two_routines(library: Library) -> None:
    for region in REGIONS:
        assert len(library.for_region(region)) >= 2, region


def test_every_routine_names_known_sources_and_safety_notes(library: Library) -> None:
    for routine in library.routines:
        sources = set(source_ids(routine.source))
        assert sources and sources <= set(SOURCES), routine.id
        assert routine.safety, routine.id


def test_every_timer_has_its_words(library: Library) -> None:
    for routine in library.routines:
        for step in routine.steps:
            timer = timer_message(step)
            if timer is not None:
                assert timer[0] in CONTENT.messages, (routine.id, timer[0])
                assert timer_done_message(step) in CONTENT.messages, routine.id


def test_key_safety_rules_are_in_the_routines(library: Library) -> None:
    cold = library.get("cold_pack")
    warm = library.get("warmth")
    assert cold is not None and warm is not None
    cold_notes = " ".join(cold.safety).lower()
    assert "wrap" in cold_notes and "20 minutes" in cold_notes and "numb" in cold_notes
    assert sum(s.seconds or 0 for s in cold.steps) <= 20 * 60
    assert "numb" in " ".join(warm.safety).lower()
    stretches = [r for r in library.routines if "stretch" in r.id]
    assert stretches and all("sharpens" in " ".join(r.safety) for r in stretches)


def test_every_routine_fits_a_phone_and_a_button(library: Library) -> None:
    codec = CallbackCodec(b"x" * 32)
    for routine in library.routines:
        longest = max(len(s.text) for s in routine.steps) + len(" ".join(routine.safety))
        assert longest < 600, routine.id  # one step message stays short
        for region in routine.regions:
            # The end-of-routine "log this episode" button carries region and routine id.
            assert len(codec.encode(2**40, "ck.new", region, routine.id).encode()) <= 64


def test_specific_stretches_come_before_general_routines(library: Library) -> None:
    assert library.for_region("calves_feet")[0].id == "calf_stretch"
    assert library.for_region("face")[0].id == "face_eyelid_calm"


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "relief"
    shutil.copytree(RELIEF_DIR, target)
    return target


def test_a_region_with_one_routine_is_a_startup_error(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    for name in ("face_eyelid_calm", "self_massage", "warmth"):
        (folder / f"{name}.yaml").unlink()
    with pytest.raises(RoutineError, match="face"):
        load_library(folder, REGIONS, SOURCES)


def test_a_bad_routine_names_its_file(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    path = folder / "calf_stretch.yaml"
    data = yaml.safe_load(path.read_text())
    del data["source"]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(RoutineError, match=r"calf_stretch\.yaml"):
        load_library(folder, REGIONS, SOURCES)


def test_unknown_source_and_a_missing_seated_alternative_are_refused(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    path = folder / "calf_stretch.yaml"
    data = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**data, "source": "seed, wikipedia"}))
    with pytest.raises(RoutineError, match="wikipedia"):
        load_library(folder, REGIONS, SOURCES)
    path.write_text(yaml.safe_dump({**data, "seated_alternative": "hand_forearm_stretch"}))
    with pytest.raises(RoutineError, match="seated_alternative"):
        load_library(folder, REGIONS, SOURCES)


def test_unknown_region_and_misnamed_file_are_refused(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    path = folder / "calf_stretch.yaml"
    data = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**data, "regions": ["elbow"]}))
    with pytest.raises(RoutineError, match="elbow"):
        load_library(folder, REGIONS, SOURCES)
    path.write_text(yaml.safe_dump(data))
    path.rename(folder / "calf.yaml")
    with pytest.raises(RoutineError, match="file name"):
        load_library(folder, REGIONS, SOURCES)
