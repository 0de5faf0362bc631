"""Palm pipeline: template size, 1:1 verification, 1:N identification and search speed, on
synthetic palms (hw/sim/palm.py) whose seeds the encoder was never tuned on.

    .venv/bin/python bench/palm.py --quick    # under 60 s, a smaller gallery
    .venv/bin/python bench/palm.py            # about 8 minutes on 2 cores

Every template is made as the product makes it: a capture from the simulated sensor
through the gate's encoder (edge/gate/palm.py); enrolment is upstream's, from the first 3
captures of an identity (upstream/palm_enrol.py).

- template_bytes: the template as sealed into a `palm` event.
- frr_at_far_1e-4 (1:1): 500 mated identities with 10 captures each; 3 enrol, the other 7
  are probes. Genuine scores are each probe against its own enrolment; impostor scores are
  each probe against every other identity's (1.75 million). The threshold is the impostor
  score at FAR 1e-4, and FRR is the genuine share at or above it.
- fnir_at_fpir_0.005_n10000 (1:N): a gallery of 10,000 enrolments, the 500 mated ones
  among 9,500 others. Mated searches are the 3,500 probes; non-mated searches are 5
  captures each of 500 identities never enrolled. The threshold lets through 0.5 % of the
  non-mated searches' best candidates; a mated search fails unless its rank-1 candidate is
  its own enrolment below that threshold.
- search_100k_ms: upstream's search (upstream/palm_match.search) of a 100,000-template
  gallery on this one process (numpy runs these operations on one core), the median over
  mated probes. The gallery is the 10,000 enrolments plus 90,000 made by stacking bands of 4
  rows from 8 different enrolments, so they have palms' statistics without belonging to
  anyone. search_100k_rank1 is the share of those probes whose own
  enrolment still comes first.
- enrolments_retaken: enrolments refused because a capture lay too far from the first
  (upstream/palm_enrol.MOST_APART) and taken again from 3 new captures, as the kiosk does.
"""

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._scoring import percentile  # noqa: E402
from edge.gate.palm import PalmEncoder  # noqa: E402
from edge.protocol.palm_template import PalmTemplate  # noqa: E402
from hw.sim.palm import capture, identity  # noqa: E402
from upstream.palm_enrol import EnrolmentRefused, enrol  # noqa: E402
from upstream.palm_match import Gallery, distances, search  # noqa: E402

ENROL_CAPTURES = 3
MATED_SEED = 2_000_000  # far from the encoder's tuning seeds (1,000 .. 1,299) and the tests'
OTHER_SEED = 3_000_000
NON_MATED_SEED = 4_000_000
FAR = 1e-4
MAX_TRIES = 3
BAND_ROWS = 4  # the made templates of the 100,000 join bands of this many rows from 8 enrolments
FPIR = 0.005

_encoder = PalmEncoder()


@dataclass(frozen=True)
class Sizes:
    mated: int
    captures: int
    gallery: int
    non_mated: int
    non_mated_captures: int
    search_probes: int


FULL = Sizes(mated=500, captures=10, gallery=10_000, non_mated=500, non_mated_captures=5, search_probes=200)
QUICK = Sizes(mated=60, captures=10, gallery=600, non_mated=60, non_mated_captures=5, search_probes=40)


def _templates(seed: int, captures: int, first: int = 0) -> np.ndarray:
    palm = identity(seed)
    return np.stack(
        [_encoder.encode(capture(palm, seed * 100 + c)).template.planes for c in range(first, first + captures)]
    )


def _person(job: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, int]:
    """One identity's enrolment, its other captures as probes (planes), and how many
    enrolments were refused first. A refused one is taken again from new captures, as the
    enrolment kiosk does."""
    seed, captures = job
    planes = _templates(seed, captures)
    for refused in range(MAX_TRIES):
        try:
            enrolled = enrol([PalmTemplate(p) for p in planes[:ENROL_CAPTURES]])
            return enrolled.planes, planes[ENROL_CAPTURES:], refused
        except EnrolmentRefused:
            retaken = _templates(seed, ENROL_CAPTURES, first=captures + refused * ENROL_CAPTURES)
            planes = np.concatenate([retaken, planes[ENROL_CAPTURES:]])
    raise RuntimeError(f"identity {seed}: every enrolment refused")


def _probes(job: tuple[int, int]) -> np.ndarray:
    seed, captures = job
    return _templates(seed, captures)


_gallery: Gallery | None = None


def _start_searcher(planes: np.ndarray) -> None:
    global _gallery
    _gallery = Gallery.of_planes(planes)


def _best(probe: np.ndarray) -> tuple[int, float]:
    assert _gallery is not None
    return search(PalmTemplate(probe), _gallery, keep=256)[0]


def verification(enrolled: np.ndarray, probes: np.ndarray) -> tuple[float, float, list[float], np.ndarray]:
    """FRR at FAR 1e-4 among the mated identities: (frr, threshold, genuine, impostor)."""
    stacked = Gallery.of_planes(enrolled)
    genuine: list[float] = []
    impostor = []
    for person, own in enumerate(probes):
        for probe in own:
            scores = distances(PalmTemplate(probe), stacked)
            genuine.append(float(scores[person]))
            impostor.append(np.delete(scores, person))
    every_impostor = np.concatenate(impostor)
    threshold = float(np.quantile(every_impostor, FAR))
    frr = sum(g >= threshold for g in genuine) / len(genuine)
    return frr, threshold, genuine, every_impostor


def identification(pool: ProcessPoolExecutor, mated_probes: np.ndarray, strangers: np.ndarray) -> tuple[float, float]:
    """FNIR at FPIR 0.005 in the gallery the pool's workers hold: (fnir, threshold)."""
    flat = mated_probes.reshape(-1, *mated_probes.shape[2:])
    owners = np.repeat(np.arange(len(mated_probes)), mated_probes.shape[1])
    mated = list(pool.map(_best, flat, chunksize=16))
    non_mated = sorted(d for _, d in pool.map(_best, strangers, chunksize=16))
    threshold = non_mated[int(FPIR * len(non_mated))]  # below it, at most FPIR of strangers
    hits = sum(index == owner and d < threshold for (index, d), owner in zip(mated, owners, strict=True))
    return 1 - hits / len(mated), threshold


def search_speed(enrolled: np.ndarray, probes: np.ndarray, count: int) -> tuple[float, float, float]:
    """(median ms, p95 ms, rank-1 share) of searches in a 100,000-template gallery."""
    rng = np.random.default_rng(7)
    made = 100_000 - len(enrolled)
    bands = enrolled.shape[2] // BAND_ROWS
    sources = rng.integers(0, len(enrolled), (made, bands))
    rows = enrolled.reshape(len(enrolled), enrolled.shape[1], bands, BAND_ROWS)
    joined = rows[sources, :, np.arange(bands)].transpose(0, 2, 1, 3).reshape(made, *enrolled.shape[1:])
    stacked = Gallery.of_planes(np.concatenate([enrolled, joined]))
    times, firsts = [], 0
    for person in range(count):
        probe = PalmTemplate(probes[person % len(probes), person // len(probes) % probes.shape[1]])
        start = time.perf_counter()
        found = search(probe, stacked)
        times.append((time.perf_counter() - start) * 1000)
        firsts += found[0][0] == person % len(probes)
    return statistics.median(times), percentile(times, 0.95), firsts / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="finish within 60 s, on a smaller gallery")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes making templates")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    started = time.monotonic()
    with ProcessPoolExecutor(args.workers) as pool:
        people = list(pool.map(_person, [(MATED_SEED + i, sizes.captures) for i in range(sizes.mated)], chunksize=8))
        others = list(
            pool.map(
                _person, [(OTHER_SEED + i, ENROL_CAPTURES) for i in range(sizes.gallery - sizes.mated)], chunksize=32
            )
        )
        strangers = np.concatenate(
            list(pool.map(_probes, [(NON_MATED_SEED + i, sizes.non_mated_captures) for i in range(sizes.non_mated)]))
        )
    enrolled = np.stack([e for e, _, _ in people])
    probes = np.stack([p for _, p, _ in people])
    gallery_planes = np.concatenate([enrolled, np.stack([e for e, _, _ in others])])
    retaken = sum(r for _, _, r in people + others)
    print(f"templates made in {time.monotonic() - started:.0f} s", file=sys.stderr)

    frr, far_threshold, genuine, impostor = verification(enrolled, probes)
    print(
        f"1:1  {len(genuine)} genuine, {len(impostor)} impostor scores; genuine mean {statistics.mean(genuine):.3f}"
        f" max {max(genuine):.3f}; impostor mean {impostor.mean():.3f} min {impostor.min():.3f};"
        f" threshold at FAR {FAR:g}: {far_threshold:.3f}, FRR {frr:.4f}"
    )
    with ProcessPoolExecutor(args.workers, initializer=_start_searcher, initargs=(gallery_planes,)) as pool:
        fnir, fpir_threshold = identification(pool, probes, strangers)
    print(
        f"1:N  gallery {len(gallery_planes)}, {probes.shape[0] * probes.shape[1]} mated and {len(strangers)}"
        f" non-mated searches; threshold at FPIR {FPIR}: {fpir_threshold:.3f}, FNIR {fnir:.4f}"
    )
    median_ms, p95_ms, rank1 = search_speed(gallery_planes, probes, sizes.search_probes)
    print(f"search of 100,000: median {median_ms:.1f} ms, p95 {p95_ms:.1f} ms, rank-1 {rank1:.3f}")
    result = {
        "template_bytes": len(PalmTemplate(enrolled[0]).to_bytes()),
        "frr_at_far_1e-4": round(frr, 4),
        "fnir_at_fpir_0.005_n10000": round(fnir, 4),
        "search_100k_ms": round(median_ms, 1),
        "search_100k_p95_ms": round(p95_ms, 1),
        "search_100k_rank1": round(rank1, 4),
        "gallery": len(gallery_planes),
        "enrolments_retaken": retaken,
        "quick": args.quick,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
