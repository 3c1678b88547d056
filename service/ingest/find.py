"""Re-identification before a home visit: find the rows of a province's own source files
whose person or household pseudonym is wanted (docs/ingest.md). Kept apart from
service.ingest.pseudonym so that pseudonymising (used by validation) and reading files back
(which uses validation) do not import each other."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from service.ingest.pseudonym import Pseudonymiser
from service.ingest.readers import iter_batches, sniff
from service.ingest.validate import Validator, map_headers
from service.settings import SettingsLike, as_settings


def find_pseudonyms(settings: SettingsLike, files: list, wanted: set[str]) -> Iterable[dict]:
    """Rows of the province's own source ``files`` whose person or household pseudonym is in
    ``wanted``: the re-identification step before a home visit (docs/ingest.md).

    Yields file, row, which pseudonym matched and the identifying columns. Runs where the
    source files and the key are held; nothing is logged, and a TIS-620 file's UTF-8 copy
    lives in a temporary directory removed at once.
    """
    settings = as_settings(settings)
    p = Pseudonymiser(as_settings(settings).pseudonym_key)

    def same() -> Pseudonymiser:
        return p

    for f in files:
        with tempfile.TemporaryDirectory(prefix="chipao-find-") as tmp:
            src = sniff(f, work_dir=Path(tmp))
            mapping = map_headers(src.headers, file=src.name)
            validator = Validator(mapping, file=src.name,
                                  boundaries_dir=settings.boundaries_dir, pseudonymiser=same)
            for raw in iter_batches(src):
                ids = validator.identities(raw)
                hits = ids.filter(pl.col("person_id").is_in(list(wanted))
                                  | pl.col("hh_id").is_in(list(wanted)))
                for rec in hits.iter_rows(named=True):
                    rec["matched"] = "person" if rec["person_id"] in wanted else "household"
                    yield {"file": src.name, **rec}
