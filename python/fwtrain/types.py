"""Value types of the training calls, named as in the official SDK and Tinker's ``tinker.types``.

A :class:`Datum` pairs the model input with the loss inputs by name, as Tinker does::

    Datum(model_input=ModelInput.from_ints([1, 2, 3]),
          loss_fn_inputs={"target_tokens": [2, 3, 4], "weights": [1.0, 1.0, 1.0]})

Loss inputs: ``target_tokens`` and ``weights`` (cross_entropy), and for the RL
losses (importance_sampling, ppo, cispo, dro) ``target_tokens``, ``logprobs``
(the sampling logprobs) and ``advantages`` (``weights`` optional). Values may
be lists, ``array.array``, or anything with ``tolist()`` (numpy, torch).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence

__all__ = ["ModelInput", "Datum", "TensorData", "AdamParams", "ForwardBackwardOutput", "OptimStepResponse",
           "SaveWeightsResponse", "LoadWeightsResponse", "SaveSamplerResult", "LOSS_FNS", "LOSS_INPUTS"]

#: The losses the trainer runs (the wire names).
LOSS_FNS = ("cross_entropy", "importance_sampling", "ppo", "cispo", "dro")
#: The loss_fn_inputs keys a Datum may carry.
LOSS_INPUTS = ("target_tokens", "weights", "logprobs", "advantages")


@dataclass
class ModelInput:
    """The model's input tokens."""

    tokens: List[int]

    @classmethod
    def from_ints(cls, tokens: Sequence[int]) -> "ModelInput":
        """A model input from token ids."""
        return cls(list(tokens))

    def to_ints(self) -> List[int]:
        """The token ids."""
        return list(self.tokens)

    @property
    def length(self) -> int:
        """Number of tokens."""
        return len(self.tokens)


@dataclass
class TensorData:
    """A flat tensor as the trainer returns it (``data`` with ``dtype`` and ``shape``)."""

    data: List[float]
    dtype: str = "float32"
    shape: Optional[List[int]] = None

    def tolist(self) -> List[float]:
        """The values as a list."""
        return list(self.data)


@dataclass
class Datum:
    """One training example: ``model_input`` and the loss inputs by name (see the module doc)."""

    model_input: Any
    loss_fn_inputs: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_tokens(cls, tokens: Sequence[int], target_tokens: Sequence[int],
                    weights: Optional[Sequence[float]] = None, logprobs: Optional[Sequence[float]] = None,
                    advantages: Optional[Sequence[float]] = None) -> "Datum":
        """A datum from plain sequences (None inputs are left out)."""
        inputs: Dict[str, Any] = {"target_tokens": target_tokens}
        for k, v in (("weights", weights), ("logprobs", logprobs), ("advantages", advantages)):
            if v is not None:
                inputs[k] = v
        return cls(ModelInput.from_ints(tokens), inputs)


@dataclass
class AdamParams:
    """Adam hyper-parameters of optim_step (the library's defaults)."""

    learning_rate: float = 1e-4
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-12
    weight_decay: float = 0.0
    grad_clip_norm: float = 0.0


@dataclass
class ForwardBackwardOutput:
    """Result of forward / forward_backward: one output per datum (``{"logprobs": TensorData}``) and metrics."""

    loss_fn_output_type: str
    loss_fn_outputs: List[Dict[str, TensorData]]
    metrics: Dict[str, float]


@dataclass
class OptimStepResponse:
    """Result of optim_step."""

    metrics: Dict[str, float]


@dataclass
class SaveWeightsResponse:
    """Result of save_state: the server's path of the DCP checkpoint."""

    path: str


@dataclass
class LoadWeightsResponse:
    """Result of load_state / load_state_with_optimizer."""

    path: str


@dataclass
class SaveSamplerResult:
    """Result of save_weights_for_sampler_ext.

    ``snapshot_name`` is session-qualified ("<name>-<8 hex>"): the identity to hotload and
    the checkpoint id to promote. ``previous_snapshot_name`` is what a full-parameter delta
    applies on top of (None for base saves and LoRA).
    """

    path: str
    snapshot_name: str
    checkpoint_type: str
    previous_snapshot_name: Optional[str] = None
