"""Cells written to CSV that a spreadsheet opens: text that starts like a formula (= + - @, tab, CR) is
prefixed with a quote, so a printer's or a customer's value is shown, never evaluated. One place for every
export (billing ERP export, device export)."""

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """`cell` as a spreadsheet shows it: text, never a formula."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell
