"""The CNN's training data folders: every waveform file is read with its format named, never auto-detected."""

import pickle
from pathlib import Path

import pytest

from ranking.ml.cnn.datasets import DatasetError, pnw_records

PNW_EVENT = "uw61348817"


class _CreatesAFileWhenUnpickled:
    """What an attacker would pickle: loading it calls open(marker, "w"), creating the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return open, (str(self.marker), "w")


def test_a_pickle_named_mseed_in_a_training_folder_is_refused_and_never_unpickled(
    tmp_path: Path, shared_data: Path
) -> None:
    # A PNW folder with one real catalogue row, whose only "record" is a pickle named like MiniSEED.
    folder = tmp_path / "pnw"
    lines = (shared_data / "pnw/events.csv").read_text().splitlines()
    row = next(line for line in lines if line.startswith(f"{PNW_EVENT},"))
    (folder / "waveforms" / PNW_EVENT).mkdir(parents=True)
    (folder / "events.csv").write_text(f"{lines[0]}\n{row}\n")
    marker = tmp_path / "unpickled-and-ran"
    bad = folder / "waveforms" / PNW_EVENT / "UW.BHW..EHZ.mseed"
    # ObsPy's PICKLE detector unpickles any file that names "obspy.core.stream" in its first 100 bytes.
    bad.write_bytes(pickle.dumps(("obspy.core.stream", _CreatesAFileWhenUnpickled(marker))))
    with pytest.raises(DatasetError, match=rf"{bad}: not a readable waveform file"):
        list(pnw_records(folder))
    assert not marker.exists()


def test_a_real_pnw_event_folder_still_reads(tmp_path: Path, shared_data: Path) -> None:
    records = list(pnw_records(shared_data / "pnw", max_events=1))
    assert records and all(record.trace.stats.sampling_rate >= 20 for record in records)
