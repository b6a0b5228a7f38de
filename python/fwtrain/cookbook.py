"""The cookbook layer: the checkpoints.jsonl registry, the Checkpointer and the WeightSyncer.

Checkpoint kinds (``CheckpointKind``): STATE (DCP weights + optimizer: resumable,
not promotable), SAMPLER (HF base weights: promotable, not resumable) and BOTH.
``{log_path}/checkpoints.jsonl`` holds one JSON line per confirmed save.
"""
from __future__ import annotations

import ctypes
import enum
from ctypes import byref, c_int, c_void_p
from dataclasses import dataclass
from typing import Any, Iterator, List, Optional

from . import _check, _lib
from .errors import check
from .futures import Owned
from .training import FiretitanTrainingClient, sampler_type

L = _lib.lib

__all__ = ["CheckpointKind", "CheckpointEntry", "CheckpointRegistry", "read_checkpoints", "append_checkpoint",
           "resolve_checkpoint_spec", "ResumeMode", "Checkpointer", "WeightSyncer", "SyncTiming"]


class CheckpointKind(enum.IntEnum):
    """What a checkpoint holds (values are bit sets: BOTH = STATE | SAMPLER)."""

    STATE = 1
    SAMPLER = 2
    BOTH = 3


class ResumeMode(enum.IntEnum):
    """How a Checkpointer started the run."""

    FRESH = 0
    AUTO = 1
    INIT = 2
    COMPLETE = 3


@dataclass
class CheckpointEntry:
    """One line of checkpoints.jsonl."""

    name: str
    step: int
    data_consumed: int = 0
    state_path: Optional[str] = None
    sampler_path: Optional[str] = None
    source_job_id: Optional[str] = None
    base_model: Optional[str] = None

    @property
    def kind(self) -> CheckpointKind:
        """STATE, SAMPLER or BOTH, from the paths the entry carries."""
        return CheckpointKind((1 if self.state_path else 0) | (2 if self.sampler_path else 0))

    @property
    def resumable(self) -> bool:
        """True if the entry has a state_path."""
        return bool(self.state_path)

    @property
    def promotable(self) -> bool:
        """True if the entry has a sampler_path."""
        return bool(self.sampler_path)


def _entry(p: Any) -> CheckpointEntry:
    e = p.contents
    return CheckpointEntry(_lib.s(e.name), e.step, e.data_consumed, _lib.opt_s(e.state_path),
                           _lib.opt_s(e.sampler_path), _lib.opt_s(e.source_job_id), _lib.opt_s(e.base_model))


class CheckpointRegistry:
    """The parsed checkpoints.jsonl: the entries in file order and the queries resumption and promotion use."""

    def __init__(self, entries: List[CheckpointEntry], torn_bytes: int, last_resumable: Optional[int] = None,
                 latest_promotable: Optional[int] = None) -> None:
        self.entries = entries
        #: Bytes of torn tail the reader ignored (a crash mid-append); 0 for a clean file.
        self.torn_bytes = torn_bytes
        self._resumable = last_resumable
        self._promotable = latest_promotable

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[CheckpointEntry]:
        return iter(self.entries)

    def __getitem__(self, i: int) -> CheckpointEntry:
        return self.entries[i]

    def last_resumable(self) -> Optional[CheckpointEntry]:
        """The entry an automatic resume loads (the library's rule: the highest step with a state_path)."""
        return self.entries[self._resumable] if self._resumable is not None else None

    def latest_promotable(self) -> Optional[CheckpointEntry]:
        """The entry promotion picks by default (the library's rule, among entries with a sampler_path)."""
        return self.entries[self._promotable] if self._promotable is not None else None

    def find_step(self, step: int) -> Optional[CheckpointEntry]:
        """The last entry of ``step``."""
        return next((e for e in reversed(self.entries) if e.step == step), None)


def read_checkpoints(log_path: str) -> CheckpointRegistry:
    """Read ``{log_path}/checkpoints.jsonl`` (missing: empty). CorruptError names file:line of a bad line."""
    p = _check.text("log_path", log_path)
    r = c_void_p()
    check(L.fwt_registry_read(byref(r), p), "read checkpoints.jsonl")
    try:
        ptrs = [L.fwt_registry_get(r, i) for i in range(L.fwt_registry_count(r))]
        addrs = [ctypes.addressof(p.contents) for p in ptrs]

        def index(p: Any) -> Optional[int]:
            return addrs.index(ctypes.addressof(p.contents)) if p else None
        return CheckpointRegistry([_entry(p) for p in ptrs], int(L.fwt_registry_torn_bytes(r)),
                                  index(L.fwt_registry_last_resumable(r)), index(L.fwt_registry_latest_promotable(r)))
    finally:
        L.fwt_registry_free(r)


def append_checkpoint(log_path: str, entry: CheckpointEntry) -> None:
    """Durably append one entry (the directory is created; the write is fsynced)."""
    if not isinstance(entry, CheckpointEntry):
        raise TypeError("entry must be a CheckpointEntry, not %s" % type(entry).__name__)
    p = _check.text("log_path", log_path)
    b = _lib.RegistryEntryBuf()
    check(L.fwt_registry_entry_init(byref(b), 1), "entry")
    e = b.e
    e.name = _check.text("entry.name", entry.name)
    e.step = _check.integer("entry.step", entry.step, 0)
    e.data_consumed = _check.integer("entry.data_consumed", entry.data_consumed, 0)
    e.state_path = _check.text("entry.state_path", entry.state_path, optional=True)
    e.sampler_path = _check.text("entry.sampler_path", entry.sampler_path, optional=True)
    e.source_job_id = _check.text("entry.source_job_id", entry.source_job_id)
    e.base_model = _check.text("entry.base_model", entry.base_model, optional=True)
    if e.state_path is None and e.sampler_path is None:
        raise ValueError("entry needs a state_path or a sampler_path")
    check(L.fwt_registry_append(p, byref(b)), "append checkpoints.jsonl")


def resolve_checkpoint_spec(spec: str) -> str:
    """An init_from_checkpoint spec ("job_id:name", "gs://...", "/...") as a load path."""
    s = _check.text("spec", spec)
    out = c_void_p()
    check(L.fwt_checkpoint_spec_resolve(byref(out), s), "init_from_checkpoint")
    return _lib.take_cstr(out)


class Checkpointer(Owned):
    """Makes a training loop resumable (the cookbook's log_path / dcp_save_interval / init_from_checkpoint).

    Construction decides how the run starts and restores it: resume from the last resumable
    entry of checkpoints.jsonl (``mode`` AUTO), load ``init_from_checkpoint`` (INIT), nothing
    (FRESH), or nothing to do (COMPLETE). Then call step_done() after each step, save() for an
    explicit checkpoint of a kind, and finish() at the end (a BOTH checkpoint).
    """

    _free_name = "fwt_checkpointer_free"
    _kind = "checkpointer"
    _close_order = 0

    def __init__(self, training_client: FiretitanTrainingClient, log_path: str, job_id: str,
                 base_model: Optional[str] = None, dcp_save_interval: int = 0, total_steps: int = 0,
                 init_from_checkpoint: Optional[str] = None, init_weights_only: bool = False,
                 op_timeout_s: Optional[float] = None) -> None:
        if not isinstance(training_client, FiretitanTrainingClient):
            raise TypeError("training_client must be a FiretitanTrainingClient")
        o = _lib.CheckpointerOptions()
        check(L.fwt_checkpointer_options_init(byref(o), 1), "checkpointer options")
        o.log_path = _check.text("log_path", log_path)
        o.job_id = _check.text("job_id", job_id)
        o.base_model = _check.text("base_model", base_model, optional=True)
        o.dcp_save_interval = _check.integer("dcp_save_interval", dcp_save_interval, 0)
        o.total_steps = _check.integer("total_steps", total_steps, 0)
        o.init_from_checkpoint = _check.text("init_from_checkpoint", init_from_checkpoint, optional=True)
        o.init_weights_only = _check.flag("init_weights_only", init_weights_only)
        if op_timeout_s is not None:
            o.op_timeout_ms = _check.seconds_ms("op_timeout_s", op_timeout_s)
        h = c_void_p()
        training_client._call(lambda t: check(L.fwt_checkpointer_start(byref(h), t, byref(o)), "checkpointer"))
        super().__init__(h)
        self._training = training_client
        training_client._adopt(self)

    def _pinned(self, fn: Any) -> Any:
        # The checkpointer calls into the training session: pin both open.
        return self._training._call(lambda _t: self._call(fn))

    @property
    def mode(self) -> ResumeMode:
        """How the run started."""
        return ResumeMode(self._call(L.fwt_checkpointer_mode))

    @property
    def start_step(self) -> int:
        """Steps already completed when the run started (the step to continue from)."""
        return int(self._call(L.fwt_checkpointer_start_step))

    @property
    def start_data_consumed(self) -> int:
        """data_consumed when the run started."""
        return int(self._call(L.fwt_checkpointer_start_data_consumed))

    @property
    def loaded_path(self) -> Optional[str]:
        """The path loaded at start, or None."""
        return _lib.opt_s(self._call(L.fwt_checkpointer_loaded_path))

    @property
    def torn_bytes(self) -> int:
        """Bytes of torn tail found in checkpoints.jsonl at start."""
        return int(self._call(L.fwt_checkpointer_torn_bytes))

    @property
    def is_complete(self) -> bool:
        """True if the run is complete (started COMPLETE, or finish() succeeded)."""
        return bool(self._call(L.fwt_checkpointer_is_complete))

    def step_done(self, step: int, data_consumed: int) -> bool:
        """Report ``step`` steps completed; saves STATE every dcp_save_interval steps. True if it saved."""
        s = _check.integer("step", step, 0)
        d = _check.integer("data_consumed", data_consumed, 0)
        saved = c_int()
        self._pinned(lambda h: check(L.fwt_checkpointer_step_done(h, s, d, byref(saved)), "step_done"))
        return bool(saved.value)

    def save(self, step: int, data_consumed: int, kind: CheckpointKind = CheckpointKind.STATE) -> None:
        """Save "step-<step>" of ``kind`` now and record it once the server confirmed it."""
        s = _check.integer("step", step, 0)
        d = _check.integer("data_consumed", data_consumed, 0)
        if not isinstance(kind, CheckpointKind):
            raise TypeError("kind must be a CheckpointKind")
        self._pinned(lambda h: check(L.fwt_checkpointer_save(h, s, d, int(kind)), "save_checkpoint"))

    save_checkpoint = save

    def finish(self, step: int, data_consumed: int) -> None:
        """The final checkpoint (BOTH: resumable and promotable); the run is then complete."""
        s = _check.integer("step", step, 0)
        d = _check.integer("data_consumed", data_consumed, 0)
        self._pinned(lambda h: check(L.fwt_checkpointer_finish(h, s, d), "finish"))


@dataclass
class SyncTiming:
    """Durations of the last WeightSyncer call in milliseconds (0 = step not run)."""

    checkpoint_type: str
    save_ms: int
    hotload_ms: int
    warmup_ms: int
    total_ms: int


class WeightSyncer(Owned):
    """Saves sampler checkpoints and hotloads them into a deployment, keeping the base/delta chain right.

    The first checkpoint is ``first_checkpoint_type`` (base), later ones deltas against what the
    deployment last loaded; after any failure the next one is a base again. Without ``deploy_mgr``
    / ``deployment_id`` it only saves. ``hotload_timeout`` bounds each hotload wait (seconds).
    """

    _free_name = "fwt_weight_syncer_free"
    _kind = "weight syncer"
    _close_order = 0

    def __init__(self, policy_client: FiretitanTrainingClient, deploy_mgr: Any = None,
                 deployment_id: Optional[str] = None, base_model: Optional[str] = None,
                 hotload_timeout: float = 600, first_checkpoint_type: str = "base", lora_rank: int = 0,
                 warmup_after_hotload: bool = True, save_ttl_seconds: Optional[int] = None) -> None:
        if not isinstance(policy_client, FiretitanTrainingClient):
            raise TypeError("policy_client must be a FiretitanTrainingClient")
        if (deploy_mgr is None) != (deployment_id is None):
            raise ValueError("deploy_mgr and deployment_id go together (both, or neither to only save)")
        native = getattr(deploy_mgr, "_native", None) if deploy_mgr is not None else policy_client._native
        if native is None:
            raise TypeError("deploy_mgr must be a DeploymentManager")
        o = _lib.WeightSyncerOptions()
        check(L.fwt_weight_syncer_options_init(byref(o), 1), "weight syncer options")
        o.lora_rank = _check.integer("lora_rank", lora_rank, 0, 2 ** 31 - 1)
        o.deployment_id = _check.text("deployment_id", deployment_id, optional=True)
        o.base_model = _check.text("base_model", base_model, optional=deployment_id is None)
        o.first_sampler_type = sampler_type("first_checkpoint_type", first_checkpoint_type)
        o.disable_warmup = 1 - _check.flag("warmup_after_hotload", warmup_after_hotload)
        o.hotload_wait.timeout_ms = _check.seconds_ms("hotload_timeout", hotload_timeout)
        if save_ttl_seconds is not None:
            o.save_ttl_seconds = _check.integer("save_ttl_seconds", save_ttl_seconds, 0)
        h = c_void_p()
        native._call(lambda c: policy_client._call(
            lambda t: check(L.fwt_weight_syncer_new(byref(h), c, t, byref(o)), "weight syncer")))
        super().__init__(h)
        self._training = policy_client
        self._native = native
        policy_client._adopt(self)
        native._adopt(self)
        self.deployment_id = deployment_id
        self.base_model = base_model

    def _pinned(self, fn: Any) -> Any:
        return self._native._call(lambda _c: self._training._call(lambda _t: self._call(fn)))

    def save_and_hotload(self, name: str, checkpoint_type: Optional[str] = None) -> str:
        """Save a sampler checkpoint ``name`` and hotload it; returns the snapshot name.

        Not recorded in checkpoints.jsonl (use Checkpointer.save with SAMPLER or BOTH for that).
        """
        n = _check.text("name", name)
        t = sampler_type("checkpoint_type", checkpoint_type)
        out = c_void_p()
        self._pinned(lambda h: check(L.fwt_weight_syncer_save_and_hotload(byref(out), h, n, t), "save_and_hotload"))
        return _lib.take_cstr(out)

    def save_only(self, name: str, checkpoint_type: Optional[str] = None) -> str:
        """Save without hotloading (the chain advances); returns the snapshot name."""
        n = _check.text("name", name)
        t = sampler_type("checkpoint_type", checkpoint_type)
        out = c_void_p()
        used = c_int()
        self._pinned(lambda h: check(L.fwt_weight_syncer_save_only(byref(out), byref(used), h, n, t), "save_only"))
        return _lib.take_cstr(out)

    def hotload(self, snapshot_name: str, checkpoint_type: str = "base") -> None:
        """Hotload an existing snapshot into this syncer's deployment and wait."""
        n = _check.text("snapshot_name", snapshot_name)
        t = sampler_type("checkpoint_type", checkpoint_type)
        self._pinned(lambda h: check(L.fwt_weight_syncer_hotload(h, n, t), "hotload"))

    def reset_delta_chain(self) -> None:
        """Next checkpoint base, next hotload full (after a re-attach)."""
        self._call(L.fwt_weight_syncer_reset_delta_chain)

    def cancel(self) -> None:
        """Cut short the wait in progress on another thread (it raises CancelledError)."""
        if not self.closed:
            try:
                self._call(L.fwt_weight_syncer_cancel)
            except ValueError:  # closed in the meantime: nothing to cancel
                pass

    @property
    def base_identity(self) -> Optional[str]:
        """The identity the deployment last loaded through this syncer."""
        return _lib.opt_s(self._call(L.fwt_weight_syncer_base_identity))

    @property
    def next_checkpoint_type(self) -> str:
        """The type the next automatic save will use ("base" or "delta")."""
        return _lib.s(L.fwt_sampler_type_name(self._call(L.fwt_weight_syncer_next_type)))

    @property
    def last_timing(self) -> SyncTiming:
        """Durations of the last call."""
        t = _lib.SyncTiming()
        t.version = 1
        self._call(lambda h: check(L.fwt_weight_syncer_last_timing(h, byref(t)), "timing"))
        return SyncTiming(_lib.s(L.fwt_sampler_type_name(t.type)), t.save_ms, t.hotload_ms, t.warmup_ms, t.total_ms)
