"""``derain eval --report``: an :class:`~derain_cli.evaluate.EvalReport` and its saved outputs as an HTML page."""

from __future__ import annotations

from pathlib import Path

from derain_cli.evaluate import EvalReport, output_path
from derain_cli.report.html import ReportImage, files_folder, write_report


def outputs_folder(page: Path, save_outputs: Path | None) -> Path:
    """Where the evaluation saves the outputs the page shows: ``--save-outputs``, else inside the page's folder."""
    return save_outputs if save_outputs is not None else files_folder(page) / "outputs"


def write_eval_report(report: EvalReport, outputs: Path, page: Path, command: str = "") -> Path:
    """Write ``page`` for ``report``, whose outputs were saved under ``outputs`` (``evaluate(save_outputs=...)``)."""
    images = [
        ReportImage(pair.name, pair.rainy, pair.clean, {label: output_path(outputs, label, pair) for label in report.models})
        for pair in report.pairs
    ]
    return write_report(report.to_json(details=True), images, page, command)
