"""The clinician report as a PDF (fpdf2). Layout only: the caller passes every word (from content)
and the figures; this module knows nothing about Telegram or the store.

Black text on white, tables with grey rules and a greyscale chart, so it prints well in black and
white. DejaVu Sans (shipped inside matplotlib) is embedded, so any name or accent renders.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
from fpdf import FPDF
from fpdf.fonts import FontFace

_FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
FONT = "DejaVu"


@dataclass(frozen=True)
class Table:
    heading: str
    header: tuple[str, ...]
    rows: list[tuple[str, ...]]
    empty: str  # shown instead of the table when there are no rows
    widths: tuple[int, ...] | None = None


@dataclass(frozen=True)
class ReportDocument:
    title: str
    subtitle: str  # period and when it was made
    note: str  # "patient-reported, not a diagnosis"
    summary_heading: str
    summary: list[str]
    chart_heading: str
    chart_png: bytes | None
    tables: list[Table] = field(default_factory=list)
    chart_note: str = ""  # a line under the chart (its legend in words, found by text search)
    footer: str = ""


class _PDF(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=7.5)
        self.set_text_color(60)
        self.cell(0, 5, f"{self.footer_text}   {self.page_no()}/{{nb}}", align="C")


def render_report(doc: ReportDocument) -> bytes:
    """A one- or two-page A4 PDF."""
    pdf = _PDF(format="A4")
    pdf.footer_text = doc.footer
    pdf.add_font(FONT, "", str(_FONTS / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(_FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_margins(16, 14, 16)
    pdf.set_auto_page_break(True, margin=16)
    pdf.set_title(doc.title)
    pdf.add_page()
    pdf.set_font(FONT, "B", 15)
    pdf.multi_cell(0, 7, doc.title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=9.5)
    pdf.multi_cell(0, 5, doc.subtitle, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    # The patient-reported note sits in a ruled box right under the title.
    pdf.set_draw_color(0)
    pdf.set_font(FONT, size=9)
    pdf.multi_cell(0, 4.6, doc.note, border=1, padding=2, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    _heading(pdf, doc.summary_heading)
    pdf.set_font(FONT, size=10)
    for line in doc.summary:
        pdf.multi_cell(0, 5.2, f"• {line}", new_x="LMARGIN", new_y="NEXT")
    if doc.chart_png:
        _heading(pdf, doc.chart_heading)
        pdf.image(io.BytesIO(doc.chart_png), w=pdf.epw)
        if doc.chart_note:
            pdf.set_font(FONT, size=8.5)
            pdf.multi_cell(0, 4.4, doc.chart_note, new_x="LMARGIN", new_y="NEXT")
    for table in doc.tables:
        _table(pdf, table)
    return bytes(pdf.output())


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(2)
    pdf.set_font(FONT, "B", 11.5)
    pdf.cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")


def _table(pdf: FPDF, table: Table) -> None:
    if pdf.will_page_break(24):
        pdf.add_page()
    _heading(pdf, table.heading)
    pdf.set_font(FONT, size=9.5)
    if not table.rows:
        pdf.multi_cell(0, 5, table.empty, new_x="LMARGIN", new_y="NEXT")
        return
    with pdf.table(
        col_widths=table.widths,
        headings_style=FontFace(emphasis="BOLD", fill_color=(235, 235, 235)),
        line_height=5.6,
        borders_layout="HORIZONTAL_LINES",
        text_align="LEFT",
    ) as grid:
        grid.row(table.header)
        for row in table.rows:
            grid.row(row)
