"""Text lines of the CNN evaluation that ``evaluate --kind cnn`` prints beyond the CNN's own metrics: the
data sources and label provenance, the seisclass peer and the transfer from it, the classical baseline on PNW
events, and the learning curve over the share of explosion events (no Django, no I/O)."""

from typing import Any


def _pair(metrics: dict[str, Any] | None) -> str:
    if not metrics:
        return "no events"
    return (
        f"events {metrics['n']:>4}  macro F1 {metrics['macro_f1']}  accuracy {metrics['accuracy']}  "
        f"eq-vs-explosion accuracy {metrics['earthquake_vs_explosion_accuracy']} "
        f"(n={metrics['earthquake_vs_explosion_n']}, AUC {metrics['earthquake_vs_explosion_auc']})"
    )


def cnn_comparison_lines(result: dict[str, Any]) -> list[str]:
    """The peer, baseline and learning-curve sections of a ``cnn_evaluate`` result, one string per line."""
    lines: list[str] = []
    cv = result.get("cross_validation")
    if cv is not None:
        lines.append(f"\n== CNN event level by label provenance, {cv['folds']}-fold cross-validation ==")
        for kind, metrics in cv.get("by_provenance", {}).items():
            lines.append(f"  {kind:<22} {_pair(metrics)}")
        lines.append(f"\n== PNW events (pnw + pnw_2002_2017), {cv['folds']}-fold cross-validation, same run ==")
        lines.append(f"  CNN (event aggregate)                  {_pair(cv.get('pnw_event'))}")
        lines.append(f"  baseline (spectral ratios + logistic)  {_pair(cv.get('baseline_pnw_event'))}")
    peer = result.get("peer")
    if peer is not None:
        if "unavailable" in peer:
            lines.append(f"\n== seisclass peer: not run ({peer['unavailable']}) ==")
        else:
            lines.append(
                f"\n== seisclass peer (Jia et al. 2022, pretrained, authors' preprocessing) on the same event "
                f"windows ({peer['windows']} station windows; classes earthquake/explosion/collapse, collapse "
                "counted as surface event) =="
            )
            titles = {
                "pretrained_zeros": "pretrained, N/E channels zero (vertical-only data)",
                "pretrained_copy": "pretrained, vertical copied into N/E",
                "transfer_frozen": "transfer: frozen peer features + logistic regression, same folds (out-of-fold)",
                "transfer_finetuned": "transfer: the peer network fine-tuned per fold, same folds (out-of-fold)",
            }
            for key, title in titles.items():
                block = peer.get(key)
                if block is None:
                    continue
                if "fold_epochs_kept" in block:
                    title = (
                        f"{title}, early-stopped at epochs {block['fold_epochs_kept']} (of {block['epochs']} at most)"
                    )
                lines.append(f"  {title}:")
                lines.append(f"    all (eq/explosion/surface)  {_pair(block['all'])}")
                lines.append(f"    PNW                         {_pair(block['pnw'])}")
                for source, metrics in block["by_source"].items():
                    lines.append(f"      {source:<26}{_pair(metrics)}")
    versus = result.get("peer_versus_cnn")
    if versus is not None and "difference" in versus:
        lines.append(
            f"\n== PNW earthquake vs explosion, out of fold on the same {versus['events']} events "
            f"({versus['explosions']} explosions): CNN AUC {versus['auc_cnn']}, fine-tuned peer AUC "
            f"{versus['auc_peer_finetuned']}, difference {versus['difference']:+} "
            f"(95 % paired bootstrap {versus['interval_95'][0]:+} to {versus['interval_95'][1]:+}) =="
        )
    curve = result.get("learning_curve")
    if curve:
        lines.append("\n== learning curve: share of the explosion events in the training folds (all test folds) ==")
        for row in curve:
            lines.append(
                f"  {100 * float(row['explosion_fraction']):>5.0f} %  event macro F1 {row['event_macro_f1']}  "
                f"explosion F1 {row['explosion_f1']}  eq-vs-explosion AUC {row['earthquake_vs_explosion_auc']}  "
                f"PNW AUC {row['pnw_earthquake_vs_explosion_auc']}"
            )
    return lines
