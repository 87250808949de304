"""The audit log's cost per row: a hash-chained, PII-redacted write vs the same write stored raw
(``audit_raw=1``, the chain only), and ``verify`` over the whole file.

    .venv/bin/python bench/audit_chain.py            # 2000 rows
    .venv/bin/python bench/audit_chain.py --rows 500

Each row is a chat request: two messages (~300 characters with an email, a phone and a card number) and a
~600-character answer, as the server writes it. Baseline: the raw write.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from genloom.serve.audit import AuditLog, AuditRecord
from genloom.settings import Settings

PROMPT = [
    {"role": "system", "content": "You are a helpful assistant for the billing team. Answer briefly."},
    {"role": "user", "content": "Hi, I'm Mr. Daniel Okafor (daniel.okafor@example.com, +44 20 7946 0958). My "
     "card 4111 1111 1111 1111 was charged twice for order 10023-88731; can you refund one of them?"},
]  # fmt: skip
ANSWER = ("Thanks for reaching out. I can see two charges for order 10023-88731 on the card you mentioned. "
          "One of them has been refunded; it should appear within 3-5 business days. ") * 4  # fmt: skip


def run(home: Path, raw: int, n: int) -> tuple[float, float]:
    s = Settings(home=home, audit_raw=raw)
    log = AuditLog(s.ensure_home() / "audit.db", s)
    t0 = time.perf_counter()
    for i in range(n):
        log.write(AuditRecord(f"chatcmpl-{i}", "alice", "/v1/chat/completions", model="fake:", prompt=PROMPT,
                              output=ANSWER, prompt_tokens=80, completion_tokens=120))  # fmt: skip
    write_ms = (time.perf_counter() - t0) * 1000 / n
    t0 = time.perf_counter()
    v = log.verify()
    verify_ms = (time.perf_counter() - t0) * 1000
    assert v.ok and v.rows == n
    log.close()
    return write_ms, verify_ms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=2000)
    n = ap.parse_args().rows
    print(f"{n} rows; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        raw_w, raw_v = run(Path(tmp) / "raw", 1, n)
        red_w, red_v = run(Path(tmp) / "redacted", 0, n)
    print(f"raw (chain only)   {raw_w:.3f} ms/write   verify {raw_v:.0f} ms ({raw_v * 1000 / n:.0f} µs/row)")
    print(f"redacted + chain   {red_w:.3f} ms/write   verify {red_v:.0f} ms   "
          f"(+{red_w - raw_w:.3f} ms/write, {red_w / raw_w:.2f}x raw)")  # fmt: skip


if __name__ == "__main__":
    main()
