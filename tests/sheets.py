"""Workbooks that stand for sheets typed in Excel, for the import tests."""
from __future__ import annotations


def formulas_as_formulas(ws) -> None:
    """Mark a sheet's "=..." cells as the formulas they are.

    The app keeps every text cell it writes as text (``app.xlsx.safe_workbook_cells``, against
    formula injection), and the tests run in the app's process: a sheet standing for one typed in
    Excel says which cells hold formulas.
    """
    for row in ws.iter_rows():
        for cell in row:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "f"
