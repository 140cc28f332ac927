"""The ranker's evidence for the queue's objective (issue 14's figures) in words: `evaluate --kind ranker`'s
summary, and the rows the model page's evidence tables show (templates/analyst/_model_ranking_evidence.html)."""

from typing import Any


def _value(value: Any) -> str:
    return "n/a" if value is None else str(value)


def _interval(row: dict[str, Any]) -> str:
    if row.get("delta") is None:
        return f"n/a ({row.get('note', 'not measurable')})"
    return f"{row['delta']:+.4f} [{row['low']:+.4f}, {row['high']:+.4f}]"


def ranking_evidence_summary(evidence: dict[str, Any]) -> str:
    """Plain-text lines of the figures: tie rate, first-screen, effort vs oracle, ECE, explanations, gate."""
    lines = [f"== ranking evidence (active profile: {evidence['profile']}) =="]
    for name, report in evidence["profiles"].items():
        shares = report["share_read_for_95_percent"]
        lines.append(
            f"{name:<12} tie rate {report['tie_rate']}; 95 % of {'/'.join(report['events_of_interest'])} "
            f"({report['interest_events']}) after reading {_value(shares['importance'])} of the queue "
            f"(oracle {_value(report['oracle_share_for_95_percent'])}, x{_value(report['effort_over_oracle'])}; "
            f"time order {_value(shares['origin time'])}, magnitude order {_value(shares['magnitude'])})"
        )
        lines.append(
            f"{'':<12} M>=3 events ({report['magnitude_3_events']}) all within the first "
            f"{_value(report['magnitude_3_last_position_share'])} of the queue; uncertain events "
            f"({report['uncertain_events']}) median position {_value(report['uncertain_median_position_share'])}, "
            f"routine events {_value(report['routine_median_position_share'])}"
        )
    calibration = evidence["calibration"]
    lines.append(
        f"calibration: {calibration['method']}; distinct probability levels "
        f"{calibration['distinct_probability_levels']} over {calibration['events']} events; "
        f"empty explanations {evidence['empty_explanations']}"
    )
    conformal = evidence["conformal"]
    lines.append(
        f"conformal triage at alpha {conformal['alpha']}: achieved error {conformal['achieved_error']}, confident "
        f"share {conformal['confident_share']} (error among confident {conformal['error_among_confident']}; "
        f"{conformal['calibration_events']} calibration labels)"
    )
    gate = evidence.get("gate")
    if gate:
        lines.append(
            f"baseline gate: product AP {gate['product_ap']} vs seven-column baseline {gate['baseline_ap']}: "
            f"{_interval(gate['product_minus_baseline'])}; with waveforms ({gate['events_with_waveforms']} events) "
            f"{_interval(gate['product_minus_baseline_with_waveforms'])}"
        )
        for group, row in gate["ablation"].items():
            lines.append(f"  ablation {group:<20} delta AP {_interval(row)}")
        cold = gate["cold_start"]
        lines.append(f"cold start: generic model (no location features) AP {cold['generic_ap']}")
    return "\n".join(lines)


EFFORT_READ_SHARES = (0.05, 0.1, 0.2, 0.3, 0.5)


def ranking_evidence_get(*, kind: str) -> dict[str, Any] | None:
    """The active ranker's latest `evaluate` evidence, shaped for the model page; None before an evaluation."""
    from ranking.models import ModelVersion

    if kind != ModelVersion.Kind.RANKER:
        return None
    active = ModelVersion.objects.filter(kind=kind, status=ModelVersion.Status.ACTIVE).first()
    evidence = (active.metrics or {}).get("latest_evaluation", {}).get("ranking_evidence") if active else None
    if not evidence:
        return None
    effort = []
    for name, report in evidence["profiles"].items():
        for order, curve in report["effort_curves"].items():
            found = {round(read, 3): share for read, share in curve}
            effort.append(
                {
                    "profile": name,
                    "order": order,
                    "interest": "/".join(report["events_of_interest"]),
                    "found": [found.get(round(read, 3)) for read in EFFORT_READ_SHARES],
                    "share_for_95": report["share_read_for_95_percent"][order],
                    "oracle": report["oracle_share_for_95_percent"],
                }
            )
    return {
        "version": active.version if active else "",
        "profile": evidence["profile"],
        "gate": evidence.get("gate"),
        "conformal": evidence["conformal"],
        "calibration": evidence["calibration"],
        "empty_explanations": evidence["empty_explanations"],
        "profiles": {
            name: {key: value for key, value in report.items() if key != "effort_curves"}
            for name, report in evidence["profiles"].items()
        },
        "effort": effort,
        "read_shares": [f"{read:.0%}" for read in EFFORT_READ_SHARES],
    }
