"""Reading uploaded Excel sheets, shared by every importer (rosters, assessment scores)."""
from __future__ import annotations

import io
import re
import warnings

# NUL and the C0 controls but tab, line feed and carriage return: no workbook holds them (the
# same set as openpyxl's ILLEGAL_CHARACTERS_RE) and no text field takes them on input
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def safe_workbook_cells() -> None:
    """Every workbook the app writes keeps its text as text, and holds no character it cannot.

    * Text is never a formula or an error value: a member's name, an org's name or a contest
      title of ``=HYPERLINK(...)`` or ``#N/A`` would otherwise be written as a live formula (or an
      error) into every export a secretary or an admin opens (formula injection). The app writes
      no formulas of its own.
    * The control characters an .xlsx cannot hold are left out: openpyxl refuses them
      (IllegalCharacterError) when a cell is set; one stored in an append-only ledger note or an
      old title would make that export fail for good. The text fields refuse them on input; this
      covers what was stored before.

    Both in the one place every cell passes through (``Cell._bind_value``). Idempotent.
    """
    from openpyxl.cell import cell as cell_module

    if getattr(cell_module.Cell._bind_value, "keeps_text", False):
        return
    original = cell_module.Cell._bind_value

    def bind_value(self, value):
        if isinstance(value, str):
            value = cell_module.ILLEGAL_CHARACTERS_RE.sub("", value)
        original(self, value)
        if isinstance(value, str) and self.data_type in ("f", "e"):
            self.data_type = "s"

    bind_value.keeps_text = True
    cell_module.Cell._bind_value = bind_value


class SheetUnreadable(Exception):
    """The upload is not a readable .xlsx, or too long; ``message`` is Chinese for the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def cell_text(value) -> str:
    """A cell as stripped text; whole numbers stored as floats lose their '.0'."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).replace("\u3000", " ").strip()


# An .xlsx is a zip: a few MB can unpack to gigabytes of XML (a zip bomb) that openpyxl would
# parse for many seconds. A sheet of the largest import allowed unpacks to a few MB.
MAX_UNPACKED_BYTES = 64 * 1024**2


def _unpacked_size(data: bytes) -> int:
    """The total unpacked size an .xlsx (a zip) declares; 0 when it is not a zip (openpyxl then
    says it is unreadable). A member whose declared size lies is caught by openpyxl's zip reader,
    which stops at the declared size."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return 0


MAX_LISTED = 200  # problems an import lists (a 4,000-row file of errors made a 5 MB page)
MAX_REASON = 200  # characters of one reason (a reason may echo a whole cell)


def listed_problems(problems: list[tuple[int | None, str]]) -> tuple[list[tuple[int | None, str]], int]:
    """An import's problems as listed to the person, in row order, each reason cut short and the
    list cut at ``MAX_LISTED`` with a line saying how many more; and how many there are in all."""
    ordered = sorted(problems, key=lambda p: (p[0] or 0))
    listed = [(row, reason if len(reason) <= MAX_REASON else reason[:MAX_REASON] + "…")
              for row, reason in ordered[:MAX_LISTED]]
    if len(ordered) > MAX_LISTED:
        listed.append((None, f"另有 {len(ordered) - MAX_LISTED} 处问题未列出：请先改正以上各处，再重新导入。"))
    return listed, len(ordered)


def _shown_sheet(workbook) -> int | None:
    """The index of the sheet Excel shows on opening: the active one, or the first visible one."""
    sheets = workbook.worksheets
    try:
        active = sheets.index(workbook.active) if workbook.active is not None else 0
    except (ValueError, IndexError):
        active = 0
    order = [active] + [i for i in range(len(sheets)) if i != active]
    return next((i for i in order if i < len(sheets) and getattr(sheets[i], "sheet_state", "visible") == "visible"), None)


def read_rows(fileobj, max_rows: int, too_many: str,
              formula_cells: dict[int, str] | None = None) -> list[tuple[int, tuple]]:
    """(Excel row number, cell values) of the non-empty rows of the sheet the workbook opens on
    (the active one; the first visible one when that is hidden: a hidden sheet is not what
    the person who saved the file looked at).

    Raises SheetUnreadable for a file that is not an .xlsx, has no sheet, or has more than
    ``max_rows`` non-empty rows (``too_many`` is the message then). A formula saved without its
    value raises too, unless ``formula_cells`` is given: then each such row's number and reason
    go there and reading goes on, so an import lists them with every other problem at once.
    """
    import openpyxl

    data = fileobj.read()
    if _unpacked_size(data) > MAX_UNPACKED_BYTES:
        raise SheetUnreadable("文件解压后过大，请只保留需要导入的工作表和数据后重新保存为 .xlsx。")
    formulas = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)  # the values Excel saved
    except Exception:  # openpyxl raises many kinds on a file that is not an xlsx
        raise SheetUnreadable("文件无法读取：请上传 Excel 的 .xlsx 文件（旧版 .xls 或 WPS 文件请先另存为 .xlsx）。")
    try:
        index = _shown_sheet(workbook)
        if index is None:
            raise SheetUnreadable("文件中没有可见的工作表。")
        sheet = workbook.worksheets[index]
        xml = workbook._archive.read(sheet._worksheet_path)  # noqa: SLF001 - the sheet's own XML
        written_rows = None
        if FORMULA_TAG.search(xml):
            # to tell a formula saved without its value from an empty cell, the formulas too
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                formulas = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
            written_sheet = formulas.worksheets[index]
            written_sheet.reset_dimensions()
            written_rows = written_sheet.iter_rows()
        # some generators declare a wrong size ("A1"), which a read-only sheet trusts
        sheet.reset_dimensions()
        rows = []
        for cells in sheet.iter_rows():
            number = next((c.row for c in cells if getattr(c, "row", None)), None)
            written = next(written_rows, ()) if written_rows is not None else ()
            try:
                _refuse_formulas_without_values(cells, written)
            except SheetUnreadable as exc:
                if formula_cells is None:
                    raise
                formula_cells.setdefault(number or next((c.row for c in written if getattr(c, "row", None)), 0),
                                         exc.message)
            values = tuple(c.value for c in cells)
            if not any(cell_text(v) for v in values):
                continue
            rows.append((number, values))
            if len(rows) > max_rows:
                raise SheetUnreadable(too_many)
        return _fill_merged_down(rows, _merged_blocks(xml), sheet.min_column)
    except SheetUnreadable:
        raise
    except Exception:
        raise SheetUnreadable("文件内容无法读取，请用 Excel 另存为 .xlsx 后重试。")
    finally:
        workbook.close()
        if formulas is not None:
            formulas.close()


# In a sheet's XML a "<" is always a tag (text escapes it): a formula is an <f> element, with or
# without a namespace prefix; a merged block a <mergeCell ref="A2:A9"/>.
FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")
MERGE_CELL = re.compile(rb"<(?:\w+:)?mergeCell\s[^>]*?\bref=[\"']([A-Za-z]{1,3}[0-9]{1,7}:[A-Za-z]{1,3}[0-9]{1,7})[\"']")


def _merged_blocks(xml: bytes) -> list[tuple[int, int, int, int]]:
    """(min_col, min_row, max_col, max_row) of a sheet's merged cells that span several rows (a
    read-only sheet does not read ``<mergeCells>``)."""
    from openpyxl.utils.cell import range_boundaries

    blocks = []
    for ref in MERGE_CELL.findall(xml):
        try:
            min_col, min_row, max_col, max_row = range_boundaries(ref.decode("ascii").upper())
        except (TypeError, ValueError):
            continue
        if max_row > min_row:
            blocks.append((min_col, min_row, max_col, max_row))
    return blocks


def _fill_merged_down(rows: list[tuple[int, tuple]], blocks, first_column: int) -> list[tuple[int, tuple]]:
    """Give every cell of a merged block spanning several rows the value of its first cell, as
    the sheet shows it: a roster with one branch name merged down the rows of its members means
    that branch on each of those rows (a file keeps the value in the first cell only). Rows that
    are empty but for a merged block stay left out, as they were."""
    if not blocks:
        return rows
    by_number = {number: i for i, (number, _values) in enumerate(rows)}
    filled = [list(values) for _number, values in rows]
    for min_col, min_row, max_col, max_row in blocks:
        top = by_number.get(min_row)
        first = min_col - first_column
        if top is None or not 0 <= first < len(filled[top]) or filled[top][first] is None:
            continue
        value = filled[top][first]
        for number in range(min_row, max_row + 1):
            i = by_number.get(number)
            if i is None:
                continue
            last = max_col - first_column
            filled[i].extend([None] * (last + 1 - len(filled[i])))  # a row's file may stop short of the block
            for col in range(first, last + 1):
                if filled[i][col] is None:
                    filled[i][col] = value
    return [(number, tuple(values)) for (number, _old), values in zip(rows, filled)]


def _refuse_formulas_without_values(cells, written) -> None:
    """A formula cell whose file holds no computed value would read as empty, and an empty score
    or name is not what the sheet shows: say which cell, and how to get its value saved.

    Excel and WPS save each formula's value; sheets written by programs often do not.
    """
    from openpyxl.utils import get_column_letter

    for cell, source in zip(cells, written):
        if cell.value is None and isinstance(source.value, str) and source.value.startswith("="):
            where = f"{get_column_letter(source.column)}{source.row}"
            raise SheetUnreadable(f"单元格 {where} 是公式，但文件里没有保存它的计算结果：请用 Excel 或 WPS "
                                  "打开并保存一次后再导入，或把公式改为数值。")
