"""Reading an uploaded file row by row, whatever Excel or the DMS saved: CSV in UTF-8 (with or without
BOM) or GBK/GB18030, and .xlsx. Rows are streamed, never loaded whole, so memory stays flat.

The format is told by the content, not the name: a PNG or PDF renamed .xlsx is refused with a message
saying what it is.
"""
from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

SNIFF_BYTES = 1 << 20  # the encoding is decided on the first megabyte; a later bad byte is still reported

_MAGIC = [
    (b"\x89PNG", "PNG"), (b"%PDF", "PDF"), (b"\xff\xd8\xff", "JPEG"), (b"GIF8", "GIF"),
    (b"\xd0\xcf\x11\xe0", "XLS"), (b"Rar!", "RAR"), (b"\x1f\x8b", "GZIP"), (b"7z\xbc\xaf", "7Z"),
]


class FileError(ValueError):
    """The file as a whole cannot be read; the message says why and what to do."""


@dataclass
class Table:
    headers: list[str]
    rows: Iterator[tuple[int, list[Any]]]  # (spreadsheet row number, cells); header is row 1
    format: str
    encoding: str = ""
    fraction: Callable[[], float] = lambda: 0.0  # how much of the file has been read, for the progress bar
    delimiter: str = ","


def open_table(path: str | Path) -> Table:
    path = Path(path)
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
    if not head:
        raise FileError(_("The file is empty (0 bytes)."))
    for magic, name in _MAGIC:
        if head.startswith(magic):
            if name == "XLS":
                raise FileError(_("This is an old Excel 97-2003 (.xls) file: save it as .xlsx or CSV first."))
            raise FileError(_("This is a %(format)s file, not a spreadsheet: upload a CSV or .xlsx file.")
                            % {"format": name})
    if head.startswith(b"PK\x03\x04"):
        return _open_xlsx(path)
    return _open_csv(path, head)


def _detect_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"  # Excel's "Unicode text" export (tab separated)
    if b"\x00" in head:
        raise FileError(_("This is not a text file: upload a CSV or .xlsx file."))
    for encoding in ("utf-8", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            decoder.decode(head, final=len(head) < SNIFF_BYTES)
        except UnicodeDecodeError:
            continue
        return encoding
    raise FileError(_("The file is neither UTF-8 nor GBK text: in Excel, save it as \"CSV UTF-8\" or .xlsx."))


def _open_csv(path: Path, head: bytes) -> Table:
    encoding = _detect_encoding(head)
    sample = head[:65536].decode(encoding, errors="ignore")
    try:
        dialect = csv.Sniffer().sniff(sample.split("\n", 5)[0] if sample else ",", delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    raw = path.open("rb")
    size = max(path.stat().st_size, 1)
    text = io.TextIOWrapper(raw, encoding=encoding, newline="")
    reader = csv.reader(text, delimiter=delimiter)
    try:
        headers = next(reader, None)
    except UnicodeDecodeError:
        text.close()
        raise FileError(_("The file is neither UTF-8 nor GBK text: in Excel, save it as \"CSV UTF-8\" or .xlsx."))
    except csv.Error as exc:
        text.close()
        raise FileError(_("The CSV file cannot be read: %(error)s") % {"error": exc}) from None
    if headers is None or not any(h.strip() for h in headers):
        text.close()
        raise FileError(_("The file has no header row."))
    return Table(headers=[h.replace("\ufeff", "") for h in headers], rows=_csv_rows(reader, text),
                 format="csv", encoding=encoding, delimiter=delimiter,
                 fraction=lambda: 0.0 if raw.closed else raw.tell() / size)


def _csv_rows(reader, text) -> Iterator[tuple[int, list[Any]]]:
    try:
        number = 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError:
                raise FileError(_("Row %(row)d is not UTF-8 or GBK text: the file mixes encodings.")
                                % {"row": number + 1}) from None
            except csv.Error as exc:
                raise FileError(_("Row %(row)d cannot be read: %(error)s") % {"row": number + 1, "error": exc}) \
                    from None
            # Logical rows, as Excel numbers them (a quoted cell may span several lines of the file).
            number += 1
            yield number, row
    finally:
        text.close()


def _open_xlsx(path: Path) -> Table:
    import openpyxl  # a heavy import, needed only for Excel files

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise FileError(_("This is not an Excel .xlsx workbook (%(error)s): upload a CSV or .xlsx file.")
                        % {"error": exc.__class__.__name__}) from None
    sheet = workbook.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    headers = next(rows, None)
    if headers is None or not any(h not in (None, "") for h in headers):
        workbook.close()
        raise FileError(_("The file has no header row."))
    headers = list(headers)
    while headers and headers[-1] in (None, ""):  # Excel often reports formatted but empty columns
        headers.pop()
    total = max(sheet.max_row or 1, 1)
    seen = [1]
    return Table(headers=["" if h is None else str(h) for h in headers], rows=_xlsx_rows(rows, workbook, seen),
                 format="xlsx", fraction=lambda: min(seen[0] / total, 1.0))


def _xlsx_rows(rows, workbook, seen: list[int]) -> Iterator[tuple[int, list[Any]]]:
    try:
        for number, row in enumerate(rows, start=2):
            seen[0] = number
            yield number, list(row)
    finally:
        workbook.close()
