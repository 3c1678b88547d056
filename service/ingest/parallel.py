"""Validate and pseudonymise batches in several processes (issue 17: national ingest).

The importing process reads the file (pyarrow's parser, which releases the GIL), checks
duplicates, writes the canonical Parquet and the report, in file order. The per-batch work
that holds the GIL (the HMAC of every identifier, the rules that run in Python) goes to
worker processes: each gets the raw batch and sends back ``(good, problems, notices,
blank rows)``, exactly what :meth:`Validator.process` gives in one process. Results are
consumed in batch order, with at most ``workers + 1`` batches in flight, so memory stays
bounded by the chunk size and the output is identical whatever the number of workers
(tests/test_ingest_fast.py).

Workers are started with ``spawn`` (polars' thread pool does not survive ``fork``), so a
script calling :func:`ingest_files` needs the usual ``if __name__ == "__main__":`` guard (or
``ingest_workers = 1``); the CLI, the server and the benchmarks have it. Should a worker die,
the batches it had are validated in the importing process (same results, slower). Workers
receive the HMAC pads derived from the key (:class:`Pseudonymiser` pickles as those), never
the key setting itself, and nothing is logged there.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any

import polars as pl

from service.ingest import worker
from service.ingest.pseudonym import Pseudonymiser, _from_pads
from service.ingest.validate import FileMapping, Validator

log = logging.getLogger(__name__)

#: at most this many worker processes by default (each holds the boundaries, ~300 MiB)
MAX_DEFAULT_WORKERS = 4


#: fewer cores than this: validate in the importing process, within the < 2 GiB bound (on 2
#: cores, 2 workers are slower at 1 M rows and 1.6x faster at 10 M, at ~3.1 GiB in all:
#: docs/benchmarks.md, "Ingest"; ingest_workers = 2 chooses them)
MIN_CORES_FOR_WORKERS = 4


def default_workers(setting: int) -> int:
    """``ingest_workers``: N > 0 is N; 0 = one per core but one (at most
    :data:`MAX_DEFAULT_WORKERS`) from :data:`MIN_CORES_FOR_WORKERS` cores, else 1."""
    if setting > 0:
        return setting
    cores = os.cpu_count() or 1
    if cores < MIN_CORES_FOR_WORKERS:
        return 1
    return min(cores - 1, MAX_DEFAULT_WORKERS)


@dataclass(frozen=True)
class ValidatorSpec:
    """What a worker needs to build the :class:`Validator` of one file."""

    mapping: FileMapping
    file: str
    boundaries_dir: str
    allowed_province: str | None


Result = tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, int]

#: this worker's state: the validator of the current file, the pseudonymiser
_worker: dict[str, Any] = {}


def _need_key() -> Pseudonymiser:
    p = _worker.get("pseudonymiser")
    if p is None:
        return Pseudonymiser("")  # raises the missing-key message
    return p


def _init(pads: tuple[bytes, bytes] | None, boundaries_dir: str) -> None:
    """The worker's state (called by :func:`service.ingest.worker.start`)."""
    _worker["pseudonymiser"] = None if pads is None else _from_pads(*pads)
    from service.ingest.validate import admin_codes, amphoe_codes

    admin_codes(boundaries_dir)  # loaded while the importing process sniffs the file
    amphoe_codes(boundaries_dir)


def process(validator: Validator, raw: pl.DataFrame) -> Result:
    before = getattr(validator, "n_blank", 0)
    good, problems = validator.process(raw)
    return good, problems, validator.last_notices, validator.n_blank - before


def _pack(frame: pl.DataFrame) -> Any:
    """Frames cross processes as Arrow tables: ~5x cheaper to pickle than polars frames."""
    return frame.to_arrow()


def _unpack(table: Any) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def _work_packed(spec_id: int, spec: ValidatorSpec, raw: Any) -> tuple[Any, Any, Any, int]:
    good, problems, notices, n_blank = _work(spec_id, spec, _unpack(raw))
    return _pack(good), _pack(problems), _pack(notices), n_blank


def _work(spec_id: int, spec: ValidatorSpec, raw: pl.DataFrame) -> Result:
    validator = _worker.get(f"validator-{spec_id}")
    if validator is None:
        _worker.pop(f"validator-{spec_id - 1}", None)
        validator = _worker[f"validator-{spec_id}"] = Validator(
            spec.mapping, file=spec.file, boundaries_dir=spec.boundaries_dir,
            pseudonymiser=_need_key, allowed_province=spec.allowed_province)
    return process(validator, raw)


def _unpacked(result: tuple[Any, Any, Any, int]) -> Result:
    good, problems, notices, n_blank = result
    return _unpack(good), _unpack(problems), _unpack(notices), n_blank


class BatchValidator:
    """``run(spec, batches)`` yields ``(raw, good, problems, notices, n_blank)`` in order,
    validated here (``workers == 1``) or in ``workers`` processes started by :meth:`start`."""

    def __init__(self, workers: int, pseudonymiser: Callable[[], Pseudonymiser],
                 boundaries_dir: str, key_set: bool) -> None:
        self.workers = workers
        self._pseudonymiser = pseudonymiser
        self.boundaries_dir = boundaries_dir
        self._key_set = key_set
        self._pool: ProcessPoolExecutor | None = None
        self._specs = 0

    def start(self) -> None:
        if self.workers > 1 and self._pool is None:
            # the initializer's module and arguments import nothing: POLARS_MAX_THREADS is
            # set in the worker before polars loads (service/ingest/worker.py)
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=get_context("spawn"), initializer=worker.start,
                initargs=(self._pseudonymiser().pads() if self._key_set else None,
                          self.boundaries_dir))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> BatchValidator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def run(self, spec: ValidatorSpec, batches: Iterable[pl.DataFrame]
            ) -> Iterator[tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame, int]]:
        if self._pool is None:
            yield from self._inline(spec, batches)
            return
        if spec.mapping.has_identifiers:
            self._pseudonymiser()  # refuse at once when the key is missing
        self._specs += 1
        used = ["_row", *dict.fromkeys(spec.mapping.columns.values())]
        todo: deque[pl.DataFrame] = deque()  # handed to a worker, result not yielded yet
        futures: deque[Future[tuple[Any, Any, Any, int]]] = deque()
        batches = iter(batches)
        try:
            for raw in batches:
                todo.append(raw)
                # only the mapped columns travel (the validator reads nothing else)
                futures.append(self._pool.submit(_work_packed, self._specs, spec,
                                                 _pack(raw.select(used))))
                if len(futures) > self.workers:
                    result = futures[0].result()
                    futures.popleft()
                    yield (todo.popleft(), *_unpacked(result))
            while futures:
                result = futures[0].result()
                futures.popleft()
                yield (todo.popleft(), *_unpacked(result))
        except BrokenProcessPool:
            # a worker died (killed, out of memory, or a script without a main guard
            # re-run by spawn): the batches not yet done are validated here, same results
            log.warning("ingest workers stopped: validating the rest in this process")
            self.close()
            pending = list(todo)
            todo.clear()
            futures.clear()
            yield from self._inline(spec, itertools.chain(pending, batches))
        finally:
            for future in futures:
                future.cancel()

    def _inline(self, spec: ValidatorSpec, batches: Iterable[pl.DataFrame]
                ) -> Iterator[tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame, int]]:
        validator = Validator(spec.mapping, file=spec.file, boundaries_dir=spec.boundaries_dir,
                              pseudonymiser=self._pseudonymiser,
                              allowed_province=spec.allowed_province)
        for raw in batches:
            yield (raw, *process(validator, raw))
