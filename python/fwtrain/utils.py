"""Configuration shared by the recipes (the cookbook's ``training.utils``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

__all__ = ["InfraConfig"]


@dataclass
class InfraConfig:
    """Where the trainer runs: a training shape (``accounts/<a>/trainingShapes/<s>``), or a manual
    accelerator type and count; ``region`` optional. ``trainer_timeout_s`` bounds the wait for the
    trainer once it left the capacity queue."""

    training_shape_id: Optional[str] = None
    accelerator_type: Optional[str] = None
    accelerator_count: Optional[int] = None
    region: Optional[str] = None
    trainer_timeout_s: float = 3600.0
