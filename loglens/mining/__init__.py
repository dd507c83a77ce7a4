"""Online Drain-style log template mining: masking, clustering, stable template ids, persistence."""

from loglens.mining.drain import (
    ClusterInfo,
    MatchResult,
    MinerConfig,
    TemplateMiner,
)
from loglens.mining.masking import WILDCARD, Masker, MaskingConfig, mask_text
from loglens.templates import template_id_for

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
