"""Real documents of every supported format, made on the fly (reportlab PDFs, python-docx files)."""

from __future__ import annotations

import io
from pathlib import Path


def make_pdf(path: Path, pages: list[str], password: str | None = None, title: str | None = None) -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    if title:
        c.setTitle(title)
    for text in pages:
        y = 800
        for line in text.split("\n"):
            c.drawString(50, y, line)
            y -= 16
        c.showPage()
    c.save()
    data = buf.getvalue()
    if password is not None:
        from pypdf import PdfReader, PdfWriter

        w = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
        w.encrypt(user_password=password, owner_password="owner", algorithm="RC4-128")
        out = io.BytesIO()
        w.write(out)
        data = out.getvalue()
    path.write_bytes(data)
    return path


def make_docx(path: Path, title: str, sections: list[tuple[str, list[str]]]) -> Path:
    import docx

    d = docx.Document()
    d.add_heading(title, level=0)
    for heading, paras in sections:
        d.add_heading(heading, level=1)
        for p in paras:
            d.add_paragraph(p)
    table = d.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "cell one"
    table.rows[0].cells[1].text = "cell two"
    d.save(str(path))
    return path


HTML = """<!DOCTYPE html><html><head><title>Vacuuming Guide</title><style>.x{color:red}</style>
<script>var tracking = 1;</script></head><body><nav>Home | Next</nav>
<div class="navheader"><table><tr><th>Prev</th><th>Next</th></tr></table></div>
<div class="toc"><dl><dt>Recovering Disk Space</dt></dl></div>
<h1>Routine Vacuuming</h1><p>PostgreSQL databases require periodic maintenance known as
<b>vacuuming</b>.</p><h2>Recovering Disk Space</h2><p>Dead row versions occupy space.</p>
<div class="tip"><h3>Tip</h3><p>Autovacuum helps.</p></div>
<pre>VACUUM FULL mytable;
ANALYZE mytable;</pre><ul><li>first item</li><li>second item</li></ul>
<h2>Updating Statistics</h2><p>The planner relies on statistics.</p></body></html>"""
