"""The enrolled palms held for searching: who each template belongs to, and the search.
Pure: enrolments in, answers out; the vault stays the record."""

from dataclasses import dataclass

from edge.protocol.palm_template import PalmTemplate
from upstream.palm_match import Gallery, search
from upstream.vault import Enrolment


@dataclass(frozen=True, slots=True)
class Candidate:
    """The enrolment nearest a probe, whether or not near enough to be a match."""

    enrolment_id: int
    account: str
    distance: float

    @property
    def score_pm(self) -> int:
        return max(0, min(1000, round((1 - self.distance) * 1000)))


class Identities:
    def __init__(self, enrolments: list[Enrolment]) -> None:
        self._enrolments = list(enrolments)
        self._gallery = Gallery.of([e.template for e in self._enrolments])

    def __len__(self) -> int:
        return len(self._enrolments)

    def nearest(self, probe: PalmTemplate) -> Candidate | None:
        """The nearest enrolment, or None when nothing is enrolled."""
        ranked = search(probe, self._gallery)
        if not ranked:
            return None
        index, distance = ranked[0]
        enrolment = self._enrolments[index]
        return Candidate(enrolment.id, enrolment.account, distance)

    def add(self, enrolment: Enrolment) -> None:
        self._enrolments.append(enrolment)
        self._gallery = Gallery.of([e.template for e in self._enrolments])

    def remove(self, accounts: set[str]) -> None:
        self._enrolments = [e for e in self._enrolments if e.account not in accounts]
        self._gallery = Gallery.of([e.template for e in self._enrolments])
