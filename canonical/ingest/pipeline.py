"""The ingest run: read the mapping and every source, build the tables, then write outputs.

Everything is read and validated before anything is written, so a malformed input
(an ``IngestError``) leaves the output folder untouched.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

import pandas as pd

from canonical.frames import TABLE_FILES, write_table
from canonical.ingest.controls import build_controls
from canonical.ingest.declarations import build_declarations
from canonical.ingest.ens import build_ens
from canonical.ingest.errors import IngestError
from canonical.ingest.failures import RejectLog
from canonical.ingest.labels import derive_controls
from canonical.ingest.mapping import Mapping, Section
from canonical.ingest.mapping_file import load_mapping
from canonical.ingest.sources import SourceTable, read_source
from canonical.ingest.summary import IngestSummary, TableReport

REJECTS_FILE = "rejects.csv"
SUMMARY_FILE = "ingest_summary.json"

S = TypeVar("S", bound=Section)


def _require(section: S | None, name: str, mapping: Path, path: Path) -> S:
    """The mapping section for a given source file, or an IngestError if it has none."""
    if section is None:
        raise IngestError(f"{mapping}: no `{name}:` section for the {name} file {path}")
    return section


def _read(path: Path, section: Section) -> SourceTable:
    """Read the columns a section uses from its source file."""
    return read_source(
        path, section.source_columns(), encoding=section.encoding, delimiter=section.delimiter
    )


def _write_rejects(logs: list[RejectLog], path: Path) -> Path:
    """Write every reject line of every source table to one CSV."""
    pd.concat([log.frame() for log in logs], ignore_index=True).to_csv(path, index=False)
    return path


def _remove_stale_tables(out: Path, keep: Iterable[str]) -> None:
    """Delete canonical table files of an earlier run that this run does not write.

    ``read_dataset`` reads every canonical table present, so a controls or ENS table left
    from a previous ingest into the same folder would otherwise be mixed with this run's.
    """
    for name, filename in TABLE_FILES.items():
        if name not in keep:
            (out / filename).unlink(missing_ok=True)


def ingest_files(
    declarations: Path,
    mapping: Path | Mapping,
    out: Path,
    ens: Path | None = None,
    controls: Path | None = None,
    use_label: bool = True,
) -> IngestSummary:
    """Ingest an administration's files into canonical Parquet tables in ``out``.

    Writes one Parquet file per canonical table with input, ``rejects.csv`` (one line
    per failed field) and ``ingest_summary.json``; tables of an earlier run in ``out``
    are removed. ``mapping`` is a YAML file or an already built ``Mapping`` (messages then
    name the declarations file). Raises ``IngestError`` for input that cannot be read at
    all (file, encoding, CSV shape, mapping). ``use_label=False`` ignores the declarations
    section's ``label`` (scoring: the training mapping serves files without the column).
    """
    if isinstance(mapping, Mapping):
        spec, mapping = mapping, Path(declarations)  # messages name the source instead
    else:
        mapping = Path(mapping)
        spec = load_mapping(mapping)
    out = Path(out)
    decl_section = _require(spec.declarations, "declarations", mapping, Path(declarations))
    if not use_label and decl_section.label is not None:
        decl_section = decl_section.model_copy(update={"label": None})
        spec = spec.model_copy(update={"declarations": decl_section})
    if controls is not None and decl_section.label is not None:
        raise IngestError(
            f"{mapping}: ambiguous labels: the declarations section maps a `label` and a controls"
            f" file ({controls}) was given; use one or the other"
        )
    ens_section = _require(spec.ens, "ens", mapping, Path(ens)) if ens is not None else None
    ctrl_section = (
        _require(spec.controls, "controls", mapping, Path(controls))
        if controls is not None
        else None
    )

    decl_source = _read(Path(declarations), decl_section)
    ens_source = _read(Path(ens), ens_section) if ens is not None and ens_section else None
    ctrl_source = (
        _read(Path(controls), ctrl_section) if controls is not None and ctrl_section else None
    )

    built = build_declarations(decl_source, decl_section, spec)
    frames: dict[str, pd.DataFrame] = {"declarations": built.frame}
    logs = [built.log]
    reports = {
        "declarations": TableReport.from_log(
            str(declarations), built.log, {"declarations": len(built.frame)}
        )
    }
    if ens_source is not None and ens_section is not None:
        ens_built = build_ens(ens_source, ens_section, spec)
        frames["ens_filings"], frames["ens_items"] = ens_built.filings, ens_built.items
        logs.append(ens_built.log)
        written = {"ens_filings": len(ens_built.filings), "ens_items": len(ens_built.items)}
        reports["ens"] = TableReport.from_log(str(ens), ens_built.log, written)
    if ctrl_source is not None and ctrl_section is not None:
        ctrl_built = build_controls(
            ctrl_source, ctrl_section, spec, declaration_ids=built.frame["declaration_id"]
        )
        frames["controls"] = ctrl_built.frame
        logs.append(ctrl_built.log)
        reports["controls"] = TableReport.from_log(
            str(controls), ctrl_built.log, {"controls": len(ctrl_built.frame)}
        )
    elif built.label is not None and decl_section.label is not None:
        frames["controls"] = derive_controls(built.frame, built.label, decl_section.label.delay)
        log = RejectLog("controls", len(built.frame))
        source = f"label column {decl_section.label.column!r} of {declarations}"
        reports["controls"] = TableReport.from_log(
            source, log, {"controls": len(frames["controls"])}
        )

    out.mkdir(parents=True, exist_ok=True)
    _remove_stale_tables(out, keep=frames.keys())
    files = [write_table(frame, name, out / TABLE_FILES[name]) for name, frame in frames.items()]
    files.append(_write_rejects(logs, out / REJECTS_FILE))
    summary = IngestSummary(out=out, tables=reports, files=(*files, out / SUMMARY_FILE))
    summary.write_json(out / SUMMARY_FILE)
    return summary
