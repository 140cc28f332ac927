"""Real PNSN catalogue rows as ranker inputs, for the ranking tests (read in place from the shared data)."""

import csv
from pathlib import Path

import numpy as np
import obspy

from ranking.ml.classes import DECISION_CLASSES, decision_class_for
from ranking.ml.features import EventInputs, ReviewedCatalogue, feature_matrix


def pnsn_rows(shared_data: Path, *, years: tuple[int, ...]) -> list[dict[str, str]]:
    path = shared_data / "catalogs" / "pnsn_comcat_2018-2022.csv"
    with path.open(newline="") as handle:
        return [row for row in csv.DictReader(handle) if int(row["year"]) in years]


def pnsn_inputs(rows: list[dict[str, str]]) -> tuple[list[EventInputs], np.ndarray, np.ndarray]:
    """EventInputs, decision class indices and POSIX times of catalogue rows."""
    inputs = [
        EventInputs(
            origin_time=float(row["timestamp"]),
            latitude=float(row["latitude"]),
            longitude=float(row["longitude"]),
            depth_km=float(row["depth"]),
            magnitude=float(row["magnitude"]) if row["magnitude"] else None,
            magnitude_type=row["magnitude_type"],
            used_phase_count=int(row["number_of_pick"]) if row["number_of_pick"] else None,
        )
        for row in rows
    ]
    labels = np.array([DECISION_CLASSES.index(decision_class_for(row["event_type"]) or "") for row in rows])
    times = np.array([event.origin_time for event in inputs])
    return inputs, labels, times


def pnsn_features(inputs: list[EventInputs], labels: np.ndarray, times: np.ndarray) -> np.ndarray:
    """The ranker's feature matrix of catalogue rows (no gazetteer, no waveforms): each event's reviewed
    neighbours are the catalogue's events before it, as analysts would have had them."""
    reviewed = ReviewedCatalogue(
        times, np.array([e.latitude for e in inputs]), np.array([e.longitude for e in inputs]), labels
    )
    return feature_matrix(inputs, gazetteer=None, reviewed=reviewed)


def phasenet_rows(shared_data: Path) -> list[dict[str, str]]:
    """The PhaseNet windows' analyst P picks (phasenet/picks.csv), one row per record file."""
    with (shared_data / "phasenet" / "picks.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def phasenet_vertical(shared_data: Path, row: dict[str, str]) -> tuple[obspy.Trace, obspy.UTCDateTime]:
    """A PhaseNet record's vertical trace and the time of its analyst P pick."""
    stream = obspy.read(str(shared_data / "phasenet" / row["file"]), format="MSEED")
    trace = next(t for t in stream if t.stats.channel.endswith("Z"))
    return trace, trace.stats.starttime + int(row["p_sample"]) / trace.stats.sampling_rate
