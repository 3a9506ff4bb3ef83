"""Typeset the directive's Vietnamese text as the PDF attached to the example campaign.

Run once when the source text changes (needs `pip install fpdf2` and Debian's
fonts-dejavu-core; nothing is downloaded):

    python tools/directive_pdf.py SOURCE.txt campaigns/online-submission/files/6176-UBND-KSTT.pdf

The text is set as written: the agency and the national motto side by side, the number
and date, the subject, then every paragraph in order. `**bold**` marks become bold.
The output is reproducible (fixed creation date).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

FONTS = Path("/usr/share/fonts/truetype/dejavu")
ISSUED = datetime(2021, 7, 9, tzinfo=UTC)


def blocks(text: str) -> list[str]:
    """Paragraphs: runs of lines separated by blank lines."""
    return [b.strip() for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]


def main(source: Path, target: Path) -> None:
    """Write the PDF of `source` to `target`."""
    parts = blocks(source.read_text(encoding="utf-8"))
    pdf = FPDF(format="A4")
    pdf.set_creation_date(ISSUED)
    pdf.set_title("Văn bản số 6176/UBND-KSTT ngày 09/7/2021 của UBND tỉnh Khánh Hòa")
    pdf.set_author("UBND tỉnh Khánh Hòa")
    pdf.add_font("Serif", "", str(FONTS / "DejaVuSerif.ttf"))
    pdf.add_font("Serif", "B", str(FONTS / "DejaVuSerif-Bold.ttf"))
    pdf.add_font("Serif", "I", str(FONTS / "DejaVuSerif-Italic.ttf"))
    pdf.set_margins(25, 20, 20)
    pdf.add_page()
    agency, motto, *rest = parts
    width = (pdf.w - pdf.l_margin - pdf.r_margin) / 2
    top = pdf.get_y()
    pdf.set_font("Serif", "B", 11)
    pdf.multi_cell(width - 5, 6, agency.strip("*"), align="C")
    pdf.set_xy(pdf.l_margin + width, top)
    pdf.multi_cell(width, 6, motto.strip("*"), align="C")
    pdf.ln(6)
    pdf.set_font("Serif", "", 11)
    number, place_date, subject, *body = rest
    line = 6.0
    pdf.cell(width, line, number)
    pdf.set_font("Serif", "I", 11)
    pdf.cell(width, line, place_date, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    pdf.set_font("Serif", "", 10)
    pdf.multi_cell(width, 5, subject, align="C")
    pdf.ln(4)
    pdf.set_font("Serif", "", 12)
    for paragraph in body:
        bold = paragraph.startswith("**") and paragraph.endswith("**")
        pdf.set_font("Serif", "B" if bold else "", 12)
        for text_line in paragraph.strip("*").split("\n"):
            pdf.multi_cell(0, line, text_line, align="J", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(2)
    target.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(target))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} SOURCE.txt OUTPUT.pdf")
    main(Path(sys.argv[1]), Path(sys.argv[2]))
