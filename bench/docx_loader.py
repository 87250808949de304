"""The .docx loader's cost per paragraph: genloom's loader (styles read once) against the baseline of reading
each paragraph's style through python-docx (``paragraph.style``, what the loader did before issue 19).

    python bench/docx_loader.py [--paragraphs 3000]

Both read the same generated document (python-docx, every 20th paragraph a heading). Prints seconds and the
ratio baseline / genloom.
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path


def make(n: int) -> bytes:
    import docx

    d = docx.Document()
    for i in range(n):
        if i % 20 == 0:
            d.add_heading(f"Section {i // 20}", 1)
        else:
            d.add_paragraph(f"Paragraph {i}: the kettle whistles when the water boils, then it switches off.")
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def baseline(data: bytes) -> int:
    import docx
    from docx.text.paragraph import Paragraph

    d = docx.Document(io.BytesIO(data))
    headings = 0
    for item in d.iter_inner_content():
        if isinstance(item, Paragraph):
            name = item.style.name if item.style is not None else ""
            headings += name.lower().startswith("heading")
            _ = item.text
    return headings


def main() -> None:
    from genloom.ingest.loaders.docx import load_docx

    ap = argparse.ArgumentParser()
    ap.add_argument("--paragraphs", type=int, default=3000)
    n = ap.parse_args().paragraphs
    data = make(n)
    t0 = time.perf_counter()
    heads = baseline(data)
    base = time.perf_counter() - t0
    t0 = time.perf_counter()
    ex = load_docx(data, Path("bench.docx"))
    ours = time.perf_counter() - t0
    assert len(ex.sections) == heads, (len(ex.sections), heads)
    print(f"{n} paragraphs ({heads} headings), {len(data) / 1024:.0f} KiB")
    print(f"baseline python-docx paragraph.style: {base:.2f} s ({base / n * 1000:.2f} ms/paragraph)")
    print(f"genloom load_docx:                    {ours:.2f} s ({ours / n * 1000:.2f} ms/paragraph)")
    print(f"ratio baseline/genloom: {base / ours:.1f}x")


if __name__ == "__main__":
    main()
