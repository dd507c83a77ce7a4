"""Online Drain-style log template mining: masking, clustering, stable template ids, persistence."""

from loglens.mining.drain import (
    ClusterInfo,
    MatchResult,
    MinerConfig,
    TemplateMiner,
    template_id_for,
)
from loglens.mining.masking import WILDCARD, Masker, MaskingConfig, mask_text

__all__ = [
    "WILDCARD",
    "ClusterInfo",
    "Masker",
    "MaskingConfig",
    "MatchResult",
    "MinerConfig",
    "TemplateMiner",
    "mask_text",
    "template_id_for",
]
