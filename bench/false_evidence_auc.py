"""How well the false-event evidence tells real noise windows from real event windows (no database).

Run: .venv/bin/python -m bench.false_evidence_auc [--limit N]   (needs the shared data and ObsPy's bundled data)

Per source, event windows and noise windows are built from the same real records, and every window goes through
ranking.ml.false_evidence exactly as the app's stations do (no labels are involved in the prior):

- pnw, pnw_2002_2017: events = each record from the origin on, arrival = STA/LTA + AIC onset after the origin
  (the app's "sta_lta" source: the files carry no station coordinates, so no TauP prediction); noise = the
  record's first 45 s (it starts 50 s before the origin), arrival = its STA/LTA maximum, as the app does for a
  station without pick or prediction; one event = all stations of one record directory.
- esec: the same with the catalogue start time; noise = the record up to 20 s before the catalogue start.
- phasenet: events = the analyst P pick (source "picks"); noise = the first 27 s, arrival = STA/LTA maximum.
- obspy: noise = ObsPy's hour of 200 Hz background (ref_STS2) in 60 s pieces and the 4-station BW.UH* records
  away from their network triggers; events = those network triggers (ObsPy's coincidence trigger tutorial).

Reported: ROC AUC of the label-free prior P(false) per source and pooled, with noise windows evaluated two ways
(arrival at the STA/LTA maximum, the hard case; arrival at a random time, as a TauP prediction of a
noise-placed origin would fall); and the AUC of a gradient boosting model on the evidence features trained on
the other sources and tested on each held-out source (leave one source out).
"""

import argparse
import csv
import datetime as dt
import os
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import obspy
from obspy import UTCDateTime

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ranking.ml.cnn.windows import onset_detect, trace_pick_component  # noqa: E402
from ranking.ml.false_evidence import (  # noqa: E402
    WAVEFORM_EVIDENCE_NAMES,
    StationEvidence,
    prior_p_false,
    station_onset_evidence,
    waveform_evidence,
)
from ranking.ml.similarity import onset_estimate  # noqa: E402

SHARED = Path(os.environ.get("SEISTRIAGE_SHARED_DATA", ROOT.parent / "shared" / "data"))
OBSPY_DATA = Path(obspy.__file__).parent / "signal" / "tests" / "data"

Window = tuple[str, str, bool, StationEvidence]  # source, event group, is_false, evidence


def _noise_arrival(trace: obspy.Trace, rng: np.random.Generator, mode: str) -> UTCDateTime | None:
    """Where a noise-placed origin's arrival falls: the STA/LTA maximum, or a random time with room around it."""
    t0, t1 = trace.stats.starttime, trace.stats.endtime
    if mode == "sta_lta":
        onset = onset_estimate(trace)
        return onset
    low, high = 12.0, (t1 - t0) - 5.0
    return None if high <= low else t0 + float(rng.uniform(low, high))


def _noise(trace: obspy.Trace, source: str, group: str, rng: np.random.Generator, mode: str) -> Window | None:
    arrival = _noise_arrival(trace, rng, mode)
    if arrival is None:
        return None
    kind = "sta_lta" if mode == "sta_lta" else "taup"
    return source, group, True, station_onset_evidence(trace, arrival=arrival, source=kind)


def pnw_windows(folder: Path, source: str, rng: np.random.Generator, mode: str, limit: int | None) -> Iterator[Window]:
    with (folder / "events.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows[:limit]:
        event_id = row.get("source_id") or row.get("event_id") or ""
        directory = folder / "waveforms" / event_id
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.mseed")):
            trace = trace_pick_component(obspy.read(str(path), format="MSEED"))
            if trace is None:
                continue
            origin = trace.stats.starttime + 50.0
            onset = onset_detect(trace, search_start=origin + 0.5, search_end=origin + 45.0)
            if onset is not None:
                evidence = station_onset_evidence(trace, arrival=onset, source="sta_lta")
                yield source, f"{source}:{event_id}", False, evidence
            quiet = trace.slice(trace.stats.starttime, origin - 5.0)
            found = _noise(quiet, source, f"{source}:{event_id}:noise", rng, mode)
            if found is not None:
                yield found


def esec_windows(folder: Path, rng: np.random.Generator, mode: str, limit: int | None) -> Iterator[Window]:
    starts: dict[str, UTCDateTime] = {}
    with (folder / "IRISExoticEventCatalog.txt").open(newline="", encoding="utf-8", errors="replace") as handle:
        for row in csv.DictReader(handle, delimiter="|"):
            text = (row.get("starttime") or "").strip()
            try:
                stamp = dt.datetime.strptime(text, "%Y_%m_%d %H%M%S").replace(tzinfo=dt.UTC)
            except ValueError:
                continue
            starts[(row.get("eventid") or "").strip()] = UTCDateTime(stamp)
    directories = sorted((folder / "waveforms").iterdir(), key=lambda p: (len(p.name), p.name))[:limit]
    for directory in directories:
        start = starts.get(directory.name)
        if start is None:
            continue
        stream = obspy.Stream()
        for path in sorted(directory.glob("*.mseed")):
            stream += obspy.read(str(path), format="MSEED")
        for network, station in sorted({(t.stats.network, t.stats.station) for t in stream}):
            trace = trace_pick_component(stream.select(network=network, station=station))
            if trace is None:
                continue
            onset = onset_detect(trace, search_start=start - 10.0, search_end=start + 90.0)
            if onset is not None:
                evidence = station_onset_evidence(trace, arrival=onset, source="sta_lta")
                yield "esec", f"esec:{directory.name}", False, evidence
            if start - 20.0 - trace.stats.starttime >= 25.0:
                quiet = trace.slice(trace.stats.starttime, start - 20.0)
                found = _noise(quiet, "esec", f"esec:{directory.name}:noise", rng, mode)
                if found is not None:
                    yield found


def phasenet_windows(folder: Path, rng: np.random.Generator, mode: str, limit: int | None) -> Iterator[Window]:
    with (folder / "picks.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows[:limit]:
        trace = trace_pick_component(obspy.read(str(folder / row["file"]), format="MSEED"))
        if trace is None:
            continue
        p_time = trace.stats.starttime + int(row["p_sample"]) / float(trace.stats.sampling_rate)
        group = f"phasenet:{row['file']}"
        yield "phasenet", group, False, station_onset_evidence(trace, arrival=p_time, source="picks")
        found = _noise(trace.slice(trace.stats.starttime, p_time - 3.0), "phasenet", group + ":noise", rng, mode)
        if found is not None:
            yield found


def obspy_windows(rng: np.random.Generator, mode: str) -> Iterator[Window]:
    from obspy.signal.trigger import coincidence_trigger

    background = obspy.read(str(OBSPY_DATA / "ref_STS2"))[0]
    start = background.stats.starttime
    for piece in range(int((background.stats.endtime - start) // 60.0)):
        window = background.slice(start + piece * 60.0, start + (piece + 1) * 60.0)
        found = _noise(window, "obspy", f"obspy:sts2:{piece}", rng, mode)
        if found is not None:
            yield found
    stream = obspy.Stream()
    for name in ("UH1._.SHZ", "UH2._.SHZ", "UH3._.SHZ", "UH4._.EHZ"):
        stream += obspy.read(str(OBSPY_DATA / f"BW.{name}.D.2010.147.cut.slist.gz"))
    stream.merge(fill_value=0)
    work = stream.copy()
    work.filter("bandpass", freqmin=10.0, freqmax=20.0)
    triggers = coincidence_trigger("recstalta", 3.5, 1, work, 3, sta=0.5, lta=10)
    times = [trigger["time"] for trigger in triggers]
    for index, moment in enumerate(times):
        for trace in stream:
            evidence = station_onset_evidence(trace, arrival=moment, source="picks")
            yield "obspy", f"obspy:bw-trigger:{index}", False, evidence
    first, last = max(t.stats.starttime for t in stream), min(t.stats.endtime for t in stream)
    piece = 0
    moment = first + 15.0
    while moment + 45.0 < last:
        if all(abs(moment - t) > 60.0 for t in times) and all(abs(moment + 30.0 - t) > 60.0 for t in times):
            for trace in stream:
                found = _noise(trace.slice(moment, moment + 45.0), "obspy", f"obspy:bw-noise:{piece}", rng, mode)
                if found is not None:
                    yield found
            piece += 1
        moment += 45.0


def collect(mode: str, limit: int | None, seed: int = 7) -> list[Window]:
    rng = np.random.default_rng(seed)
    windows: list[Window] = []
    windows += pnw_windows(SHARED / "pnw", "pnw", rng, mode, limit)
    windows += pnw_windows(SHARED / "pnw_2002_2017", "pnw_2002_2017", rng, mode, limit)
    windows += esec_windows(SHARED / "esec", rng, mode, limit)
    windows += phasenet_windows(SHARED / "phasenet", rng, mode, limit)
    windows += obspy_windows(rng, mode)
    return windows


def events_of(windows: list[Window]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Per event group: evidence features, prior P(false), is_false, source, and the group names."""
    grouped: dict[tuple[str, str, bool], list[StationEvidence]] = defaultdict(list)
    for source, group, is_false, station in windows:
        grouped[(source, group, is_false)].append(station)
    features, priors, labels, sources, groups = [], [], [], [], []
    for (source, group, is_false), stations in grouped.items():
        evidence = waveform_evidence(stations)
        if not evidence["fe_station_count"]:
            continue
        features.append([evidence[name] for name in WAVEFORM_EVIDENCE_NAMES])
        priors.append(prior_p_false(evidence))
        labels.append(is_false)
        sources.append(source)
        groups.append(group)
    return np.array(features), np.array(priors), np.array(labels), np.array(sources), groups


def app_ranker_held_out(features: np.ndarray, priors: np.ndarray, labels: np.ndarray, sources: np.ndarray) -> None:
    """The app's own ranker (ranking.ml.ranker.ranker_fit: its trees, calibration and the join of P(false) with
    the label-free prior, weighted by the number of false labels) on the evidence features and the prior, trained
    on the other sources (their noise windows standing in for synthetic_false events) and scored on each held-out
    source: its P(not_existing)."""
    from sklearn.metrics import roc_auc_score

    from ranking.ml.classes import DECISION_CLASSES, EARTHQUAKE, NOT_EXISTING
    from ranking.ml.false_evidence import PRIOR_NAME
    from ranking.ml.ranker import ranker_fit

    names = (*WAVEFORM_EVIDENCE_NAMES, PRIOR_NAME)
    classes = np.where(labels, DECISION_CLASSES.index(NOT_EXISTING), DECISION_CLASSES.index(EARTHQUAKE))
    order = np.random.default_rng(3).permutation(len(labels)).astype(float)  # calibration rows: a random fifth
    print("== the app's ranker (trees + calibration + prior join) on evidence and prior, one source held out ==")
    held_scores, held_labels = [], []
    for source in sorted(set(sources)):
        train, test = sources != source, sources == source
        if len(set(labels[train])) < 2 or len(set(labels[test])) < 2:
            continue
        model = ranker_fit(
            features[train], classes[train].astype(np.int64), order[train], feature_names=names, feature_version="bench"
        )
        scores = model.predict_proba(features[test])[:, DECISION_CLASSES.index(NOT_EXISTING)]
        held_scores.append(scores)
        held_labels.append(labels[test])
        print(
            f"  held out {source:<14} n={int(test.sum()):>4}  ROC AUC {roc_auc_score(labels[test], scores):.4f}  "
            f"(false labels {model.false_labels}, model weight {model.false_prior_weight():.2f}; "
            f"prior alone {roc_auc_score(labels[test], priors[test]):.4f})"
        )
    print(
        f"  pooled held-out predictions ROC AUC "
        f"{roc_auc_score(np.concatenate(held_labels), np.concatenate(held_scores)):.4f}"
    )


def main() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="at most this many events per shared-data source")
    args = parser.parse_args()
    print(f"shared data: {SHARED}; load average {os.getloadavg()[0]:.1f}")
    for mode in ("sta_lta", "random"):
        features, priors, labels, sources, _groups = events_of(collect(mode, args.limit))
        noise_arrival = "STA/LTA maximum" if mode == "sta_lta" else "random time (a TauP prediction)"
        print(f"\n== label-free prior P(false); noise arrival at the {noise_arrival} ==")
        for source in [*sorted(set(sources)), "pooled"]:
            mask = np.ones(len(labels), bool) if source == "pooled" else sources == source
            n_false, n_real = int(labels[mask].sum()), int((~labels[mask]).sum())
            auc = roc_auc_score(labels[mask], priors[mask]) if n_false and n_real else float("nan")
            recall = float(np.mean(priors[mask][labels[mask]] >= 0.5)) if n_false else float("nan")
            false_alarm = float(np.mean(priors[mask][~labels[mask]] >= 0.5)) if n_real else float("nan")
            print(
                f"  {source:<14} noise events {n_false:>4}  real events {n_real:>4}  ROC AUC {auc:.4f}  "
                f"P(false)>=0.5: noise {recall:.3f}, real {false_alarm:.3f}"
            )
        print(f"== gradient boosting on the evidence features, one source held out (noise: {mode}) ==")
        held_scores, held_labels = [], []
        features_with_prior = np.column_stack([features, priors])
        features = features[:, ~np.all(np.isnan(features), axis=0)]  # e.g. no magnitudes here: nobody is expected
        for source in sorted(set(sources)):
            train, test = sources != source, sources == source
            if len(set(labels[train])) < 2 or len(set(labels[test])) < 2:
                continue
            model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, random_state=0)
            model.fit(features[train], labels[train])
            scores = model.predict_proba(features[test])[:, 1]
            held_scores.append(scores)
            held_labels.append(labels[test])
            print(f"  held out {source:<14} n={int(test.sum()):>4}  ROC AUC {roc_auc_score(labels[test], scores):.4f}")
        print(
            f"  pooled held-out predictions ROC AUC "
            f"{roc_auc_score(np.concatenate(held_labels), np.concatenate(held_scores)):.4f}"
        )
        app_ranker_held_out(features_with_prior, priors, labels, sources)


if __name__ == "__main__":
    main()
