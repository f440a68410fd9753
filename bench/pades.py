"""Benchmark (not a test): the gateway's own PAdES check per document, against the same pyhanko validation as the
BSrE mock runs it (the raw baseline), on the generator's pool (valid, foreign, unsigned, altered).

    python3 bench/pades.py [--rounds 20]

Printed per kind: milliseconds per document for `gateway.pades.check`, for the mock's `check_pdf`, and their ratio;
then the pool through `OfflineChecker` (a process pool of 2, spawned) for many distinct documents' worth of calls.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from asn1crypto import x509 as asn1_x509  # noqa: E402

from gateway import pades  # noqa: E402
from mocks.generator import document_pool  # noqa: E402
from mocks.signing import trust_roots  # noqa: E402
from mocks.tte import check_pdf  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    roots = tuple(trust_roots())
    anchors = [asn1_x509.Certificate.load(r) for r in roots]
    pool = document_pool()
    pades.check(pool[0].pdf, roots)  # imports and first-use caches, out of the figures
    for document in pool:
        begun = time.perf_counter()
        for _ in range(args.rounds):
            own = pades.check(document.pdf, roots)
        mine = (time.perf_counter() - begun) / args.rounds
        begun = time.perf_counter()
        for _ in range(args.rounds):
            check_pdf(document.pdf, anchors)
        raw = (time.perf_counter() - begun) / args.rounds
        print(f"{document.id:18} {own.conclusion.value if own.conclusion else 'undecided':12} gateway "
              f"{mine * 1000:6.1f} ms  raw pyhanko {raw * 1000:6.1f} ms  ratio {mine / raw if raw else 0:4.2f}")
    checker = pades.OfflineChecker(roots, 2)
    begun = time.perf_counter()
    for document in pool:
        checker.check(document.pdf)  # distinct documents: each goes to a worker process
    print(f"through the process pool (2 workers, spawned; includes their start): {len(pool)} documents in "
          f"{time.perf_counter() - begun:.2f} s")
    checker.close()


if __name__ == "__main__":
    main()
