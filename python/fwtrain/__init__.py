"""fwtrain — the Fireworks Training API from Python, over libfwtrain (ctypes, standard library only).

The public names follow the official SDK (``fireworks.training.sdk``), so switching
is an import change::

    from fwtrain import FireworksClient, TrainerJobManager, DeploymentManager, WeightSyncer

The library is found through $FWTRAIN_LIB, then the build tree of this checkout,
then the installed tree (see ``fwtrain.library_path``).
"""
from ._lib import library_path
from ._lib import lib as _L
from .client import (CreatedTrainerJob, DeploymentConfig, DeploymentInfo, DeploymentManager, FireworksClient,
                     TrainerJobConfig, TrainerJobManager, TrainerServiceEndpoint, validate_output_model_id)
from .cookbook import (CheckpointEntry, CheckpointKind, Checkpointer, CheckpointRegistry, ResumeMode, SyncTiming,
                       WeightSyncer, append_checkpoint, read_checkpoints, resolve_checkpoint_spec)
from .errors import (AuthenticationError, CancelledError, ConflictError, CorruptError, DeadlineExceededError,
                     ExpiredError, FwtrainError, HTTPError, InvalidArgumentError, LocalIOError, NotFoundError,
                     ProtocolError, RateLimitError, RemoteError, StateError, TransportError, UnsupportedError)
from .futures import Future
from .sampling import SampledCompletion, SampleResponse, SamplingClient
from .training import FiretitanServiceClient, FiretitanTrainingClient, resolve_checkpoint_path
from .types import (AdamParams, Datum, ForwardBackwardOutput, LoadWeightsResponse, ModelInput, OptimStepResponse,
                    SaveSamplerResult, SaveWeightsResponse, TensorData)

__version__ = "0.1.0"

#: The version of the libfwtrain loaded, e.g. "0.1.0".
library_version: str = _L.fwt_version_string().decode()

__all__ = [
    "FireworksClient", "TrainerJobManager", "DeploymentManager", "TrainerJobConfig", "CreatedTrainerJob",
    "TrainerServiceEndpoint", "DeploymentConfig", "DeploymentInfo", "validate_output_model_id",
    "FiretitanServiceClient", "FiretitanTrainingClient", "resolve_checkpoint_path",
    "SamplingClient", "SampledCompletion", "SampleResponse",
    "WeightSyncer", "SyncTiming", "Checkpointer", "ResumeMode", "CheckpointKind", "CheckpointEntry",
    "CheckpointRegistry", "read_checkpoints", "append_checkpoint", "resolve_checkpoint_spec",
    "Future", "ModelInput", "Datum", "TensorData", "AdamParams", "ForwardBackwardOutput", "OptimStepResponse",
    "SaveWeightsResponse", "LoadWeightsResponse", "SaveSamplerResult",
    "FwtrainError", "InvalidArgumentError", "AuthenticationError", "NotFoundError", "ConflictError",
    "RateLimitError", "DeadlineExceededError", "CancelledError", "TransportError", "RemoteError", "ExpiredError",
    "HTTPError", "ProtocolError", "StateError", "LocalIOError", "CorruptError", "UnsupportedError",
    "library_path", "library_version", "__version__",
]
