"""Read-quality knobs of `genscale data synth`, and the presets that set them together.

Each knob has one measurable effect, checked by a test in the generated FASTQ or in the
report FastQC or Picard writes for it:

- quality_shift: ART's base qualities move by this much, and ART draws its errors from them,
  so a negative shift raises the error rate (rising along the read as the profile's does).
  Seen in the mean base quality and in samtools stats' error rate.
- adapter_fraction (with short_insert_mean): pairs whose insert is shorter than the read run
  into the adapter. Seen in FastQC's adapter content.
- duplicate_fraction: pairs that are PCR copies of another pair. Seen in Picard's
  PERCENT_DUPLICATION.
- optical_duplicate_fraction: of those copies, the share next to their original on the tile.
  Seen in Picard's READ_PAIR_OPTICAL_DUPLICATES.
- contamination_fraction: pairs from a foreign genome, which do not map. Seen in the mapped
  fraction.
- low_complexity_fraction: pairs that are short tandem repeats.
- polyg_fraction: reads ending in a poly-G tail (no signal on two-colour chemistry).
- n_rate: bases called N. Seen in the N content.
- gc_bias: fragments far from 45% GC are under-sequenced, as PCR does: a pair is kept with
  probability exp(-gc_bias * ((gc - 0.45) / 0.1)^2). Seen in a narrower spread of per-read
  GC (FastQC's per-sequence GC content).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from genscale.errors import UserError


@dataclass(frozen=True)
class QualityKnobs:
    quality_shift: int = 0
    adapter_fraction: float = 0.0
    short_insert_mean: int = 60
    duplicate_fraction: float = 0.0
    optical_duplicate_fraction: float = 0.0
    contamination_fraction: float = 0.0
    low_complexity_fraction: float = 0.0
    polyg_fraction: float = 0.0
    n_rate: float = 0.0
    gc_bias: float = 0.0

    def check(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            flag = "--" + f.name.replace("_", "-")
            if f.name.endswith(("_fraction", "_rate")) and not 0 <= value <= 1:
                raise UserError(f"{flag}: expected a fraction from 0 to 1, got {value}")
        if not -30 <= self.quality_shift <= 20:
            raise UserError(f"--quality-shift: expected -30 to 20, got {self.quality_shift}")
        replaced = (self.adapter_fraction + self.duplicate_fraction
                    + self.contamination_fraction)
        if replaced > 0.95:
            raise UserError("--adapter-fraction + --duplicate-fraction + "
                            f"--contamination-fraction: at most 0.95 together, got {replaced}")
        if not 0 <= self.gc_bias <= 5:
            raise UserError(f"--gc-bias: expected 0 (none) to 5 (strong), got {self.gc_bias}")
        if self.short_insert_mean < 10:
            raise UserError("--short-insert-mean: at least 10 bp")

    def gc_keep(self, gc: float) -> float:
        """Probability of keeping a fragment of this GC fraction."""
        return math.exp(-self.gc_bias * ((gc - 0.45) / 0.1) ** 2)


PRESETS: dict[str, QualityKnobs] = {
    "clean": QualityKnobs(),
    "typical": QualityKnobs(quality_shift=-2, adapter_fraction=0.03, duplicate_fraction=0.08,
                            optical_duplicate_fraction=0.1, contamination_fraction=0.01,
                            low_complexity_fraction=0.002, polyg_fraction=0.005,
                            n_rate=0.0005, gc_bias=0.1),
    "degraded": QualityKnobs(quality_shift=-8, adapter_fraction=0.12, duplicate_fraction=0.2,
                             optical_duplicate_fraction=0.2, contamination_fraction=0.05,
                             low_complexity_fraction=0.02, polyg_fraction=0.03,
                             n_rate=0.005, gc_bias=0.5),
    "pathological": QualityKnobs(quality_shift=-15, adapter_fraction=0.3,
                                 short_insert_mean=40, duplicate_fraction=0.45,
                                 optical_duplicate_fraction=0.3, contamination_fraction=0.15,
                                 low_complexity_fraction=0.08, polyg_fraction=0.1,
                                 n_rate=0.02, gc_bias=1.5),
}
