"""One chunked pipeline for every import: the file's rows read and validated
a chunk at a time, each valid chunk written (in the caller's transaction) by a
second thread while the next chunk is read; all or nothing.

What differs between the directories is one `ImportTarget` each: its columns,
its row reader (file rows -> validated rows), the key a row is known by, and
its `Sorter`, which reads what the directory already holds once, checks each
row against it and writes a chunk through the record's writer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, BinaryIO, Generic, Protocol, TypeVar

from sqlalchemy.orm import Session

from app.errors import ProblemItem
from app.pools.code_set import CodeSet
from app.pools.columns import Column
from app.pools.import_batch import done, read_file, start_batch
from app.pools.models import ImportBatch
from app.pools.rows import ImportReport, Layout, Problems, repeated_message
from app.pools.tabular import Table


class _Numbered(Protocol):
    @property
    def number(self) -> int: ...


R = TypeVar("R", bound=_Numbered)
C = TypeVar("C")
R_in = TypeVar("R_in", bound=_Numbered, contravariant=True)
RowReader = Callable[[Table, str, Layout, Problems, ImportReport], Iterator[R]]


class SeenKeys:
    """The keys met so far in a file, kept alone (a million-row file holds a
    million codes, not their rows or row numbers too). A repeated key's problem
    names the row the key first came in; those rows are found at the end, by
    reading the file once more (a file refused anyway)."""

    def __init__(self, layout: Layout, field: str, what: str) -> None:
        self.keys = CodeSet()  # exact for any key; compact for codes
        self.column = layout.where(field)
        self.what = what
        self.unnamed: dict[str, list[ProblemItem]] = {}  # key -> its listed problems

    def add(self, key: str, row_number: int, problems: Problems) -> bool:
        """Whether `key` is new in the file; if not, the problem is added."""
        if self.keys.add(key):
            return True
        item = problems.add(
            row=row_number,
            column=self.column,
            message=repeated_message(self.what, key, 0),  # the first row is named at the end
            code="duplicate_in_file",
            value=key,
        )
        if item is not None:
            self.unnamed.setdefault(key, []).append(item)
        return False

    def name_first_rows(self, rows: Iterator[R], key: Callable[[R], str]) -> None:
        """Name in each listed problem the row its key first came in."""
        for row in rows:
            if not self.unnamed:
                return
            found = key(row)
            for item in self.unnamed.pop(found, ()):
                item.message = repeated_message(self.what, found, row.number)


class Sorter(Protocol[R_in, C]):
    """One import's view of its directory, read once, and its rows waiting."""

    seen: SeenKeys

    def sort(self, row: R_in, problems: Problems) -> None:
        """Check `row` against the file and the directory; keep it if it passes."""

    def pending(self) -> int:
        """How many rows wait to be written."""

    def take(self) -> C:
        """The rows waiting, as one chunk; none wait after."""

    def write(
        self,
        session: Session,
        chunk: C,
        report: ImportReport,
        actor: str,
        batch: ImportBatch | None,
    ) -> None:
        """Count a chunk's changes and, unless `batch` is None (a dry run, or a
        file already refused), write them."""


class Waiting(Generic[R]):
    """A sorter's rows waiting to be written, in file order (a sorter that
    sorts them no further)."""

    def __init__(self) -> None:
        self.rows: list[R] = []

    def pending(self) -> int:
        return len(self.rows)

    def take(self) -> list[R]:
        rows, self.rows = self.rows, []
        return rows


@dataclass(frozen=True, slots=True)
class ImportTarget(Generic[R, C]):
    """What one directory's import is: its name, its file's columns, how a row
    is read and validated, the key a row is known by, and its sorter."""

    name: str
    columns: tuple[Column, ...]
    rows: RowReader[R]
    key: Callable[[R], str]
    sorter: Callable[[Session, Layout], Sorter[R, C]]


# Rows validated, then written, at a time.
CHUNK_ROWS = 5_000
# Rows validated between two chances for the writer to take the interpreter.
YIELD_ROWS = 64


def run_import(
    target: ImportTarget[Any, Any],
    session: Session,
    *,
    file: BinaryIO,
    filename: str,
    actor: str,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Validate a file of `target` and write it all, or reject it whole.

    After the first problem nothing more is written; the rest of the file is
    still checked so that every problem is listed, and the rejection rolls the
    transaction back. Memory stays flat however long the file.
    """
    report = ImportReport(target=target.name, dry_run=dry_run)
    table, layout, problems = read_file(file, filename, target.columns, report)
    batch = (
        None
        if dry_run
        else start_batch(session, target=target.name, filename=filename, file=file, actor=actor)
    )
    sorter = target.sorter(session, layout)
    with _ChunkWriter() as writer:

        def write() -> None:
            # A file with a problem is refused whole: writing more of it is wasted work.
            write_to = None if problems.count else batch
            writer.submit(sorter.write, session, sorter.take(), report, actor, write_to)

        for number, row in enumerate(target.rows(table, filename, layout, problems, report)):
            if number % YIELD_ROWS == 0:
                writer.let_run()
            sorter.sort(row, problems)
            if sorter.pending() == CHUNK_ROWS:
                write()
                if progress is not None:
                    progress(report.rows, max(table.size_hint, report.rows))
        write()
    if sorter.seen.unnamed:
        again = ImportReport(target=target.name, dry_run=True)
        table, layout, problems_again = read_file(file, filename, target.columns, again)
        rows = target.rows(table, filename, layout, problems_again, again)
        sorter.seen.name_first_rows(rows, target.key)
    problems.raise_if_any(filename)
    if progress is not None:
        progress(report.rows, report.rows)
    return done(report, batch, session)


class _ChunkWriter:
    """Runs each chunk's database work on one other thread while the next
    chunk is read and validated (the database and the driver release the GIL
    while they work, so the two overlap on a second core).

    At most one chunk is in flight, and the reading thread does not touch the
    session until the writer is done with it, so the session is only ever used
    by one thread at a time. An error in the writer is raised in the reading
    thread, at the next chunk or at the end.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-writer")
        self._pending: Future[None] | None = None

    def submit(self, work: Callable[..., None], *args: Any) -> None:
        self.wait()
        self._pending = self._pool.submit(work, *args)

    def let_run(self) -> None:
        """Give the writer the interpreter now, if it waits for it.

        The writer takes the interpreter lock for a moment after each statement
        the database ran without it; the reading thread, busy with Python, would
        hand the lock over only when the interpreter asks it to (every 5 ms): the
        writer would run one statement per 5 ms and the two threads would barely
        overlap (a million rows: 45 s instead of 34, measured). Sleeping for no time
        releases the lock at once.
        """
        if self._pending is not None and not self._pending.done():
            time.sleep(0)

    def wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def __enter__(self) -> _ChunkWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        try:
            self.wait()
        except Exception:
            if kind is None:  # else the reading thread's own error is the one to raise
                raise
        finally:
            self._pool.shutdown()
