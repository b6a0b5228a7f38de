"""Supervised fine-tuning with resumable checkpoints (the cookbook quickstart's ``sft_loop``).

    config = Config(log_path="./my_training", base_model=..., dataset="data.jsonl",
                    tokenizer_model=..., dcp_save_interval=10, infra=InfraConfig(training_shape_id=...))
    main(config)   # run again with the same config after an interruption: it resumes

Each run creates a trainer job, opens a training client and a
:class:`fwtrain.Checkpointer` on ``log_path``: it resumes from the last resumable
entry of ``{log_path}/checkpoints.jsonl`` (a STATE save every ``dcp_save_interval``
steps, loaded across jobs with ``cross_job://``), or starts from
``init_from_checkpoint`` ("job_id:checkpoint_name", step reset to 0), or fresh. The
last step is saved as BOTH (resumable and promotable). The trainer job is deleted
at the end (its checkpoints stay listable and promotable).

Dataset: JSON lines, each ``{"text": ...}``, ``{"prompt": ..., "completion": ...}``
(loss on the completion only) or ``{"messages": [{"role", "content"}, ...]}`` (loss
on assistant turns). Tokenizer: ``Config.tokenizer`` (a callable str -> token ids)
when given; else ``transformers.AutoTokenizer`` for ``tokenizer_model`` when that
package is installed; else UTF-8 bytes (the byte-level model of fwtrain-local),
with a warning naming the model it stands in for.
"""
from __future__ import annotations

import json
import logging
import math
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..client import TrainerJobConfig, TrainerJobManager
from ..cookbook import Checkpointer, ResumeMode
from ..types import AdamParams, Datum, ModelInput
from ..utils import InfraConfig

__all__ = ["Config", "main"]

_log = logging.getLogger("fwtrain.recipes.sft_loop")


@dataclass
class Config:
    """The SFT recipe's settings (the cookbook's field names and defaults)."""

    log_path: str
    base_model: str = ""
    dataset: str = ""
    tokenizer_model: Optional[str] = None
    dcp_save_interval: int = 0
    init_from_checkpoint: Optional[str] = None
    infra: InfraConfig = field(default_factory=InfraConfig)
    epochs: int = 1
    batch_size: int = 4
    learning_rate: float = 1e-4
    max_seq_len: int = 4096
    lora_rank: int = 0
    max_steps: Optional[int] = None
    tokenizer: Optional[Callable[[str], List[int]]] = None
    api_key: Optional[str] = None
    base_url: Optional[str] = None
    delete_trainer_on_exit: bool = True


def _tokenizer(config: Config) -> Callable[[str], List[int]]:
    if config.tokenizer is not None:
        return config.tokenizer
    if config.tokenizer_model:
        try:
            from transformers import AutoTokenizer  # type: ignore[import-not-found]
        except ImportError:
            _log.warning("transformers is not installed: tokenizing %s's text as UTF-8 bytes",
                         config.tokenizer_model)
        else:
            tok = AutoTokenizer.from_pretrained(config.tokenizer_model)
            return lambda s: list(tok.encode(s, add_special_tokens=False))
    return lambda s: list(s.encode("utf-8"))


def _example(line: Dict[str, Any], enc: Callable[[str], List[int]]) -> Tuple[List[int], List[float]]:
    """Tokens and per-token loss weights of one dataset line."""
    if "messages" in line:
        toks: List[int] = []
        w: List[float] = []
        for m in line["messages"]:
            t = enc("%s: %s\n" % (m["role"], m["content"]))
            toks += t
            w += [1.0 if m["role"] == "assistant" else 0.0] * len(t)
        return toks, w
    if "prompt" in line:
        p, c = enc(line["prompt"]), enc(line["completion"])
        return p + c, [0.0] * len(p) + [1.0] * len(c)
    t = enc(line["text"])
    return t, [1.0] * len(t)


def _load_dataset(config: Config) -> List[Datum]:
    enc = _tokenizer(config)
    data = []
    with open(config.dataset, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                toks, w = _example(json.loads(raw), enc)
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError("%s:%d: not a dataset line (%s)" % (config.dataset, n, e)) from None
            toks, w = toks[:config.max_seq_len + 1], w[:config.max_seq_len + 1]
            if len(toks) < 2 or not any(w[1:]):
                continue
            data.append(Datum(model_input=ModelInput.from_ints(toks[:-1]),
                              loss_fn_inputs={"target_tokens": toks[1:], "weights": w[1:]}))
    if not data:
        raise ValueError("%s holds no usable example" % config.dataset)
    return data


def main(config: Config) -> Dict[str, Any]:
    """Run (or resume, or skip when complete) the SFT loop; returns a summary of the run."""
    if not isinstance(config, Config):
        raise TypeError("config must be a sft_loop.Config")
    if not config.base_model:
        raise ValueError("config.base_model is required")
    if config.batch_size < 1 or config.epochs < 1:
        raise ValueError("config.batch_size and config.epochs must be >= 1")
    data = _load_dataset(config)
    total = config.max_steps or math.ceil(len(data) * config.epochs / config.batch_size)
    infra = config.infra
    with TrainerJobManager(api_key=config.api_key, base_url=config.base_url) as mgr:
        endpoint = mgr.create_and_wait(TrainerJobConfig(
            base_model=config.base_model, lora_rank=config.lora_rank, job_id="sft-" + uuid.uuid4().hex[:8],
            training_shape_ref=infra.training_shape_id, accelerator_type=infra.accelerator_type,
            accelerator_count=infra.accelerator_count, region=infra.region),
            poll_interval_s=1.0, timeout_s=infra.trainer_timeout_s)
        losses: List[float] = []
        try:
            with mgr.create_training_client(endpoint, base_model=config.base_model) as tc:
                ck = Checkpointer(tc, log_path=config.log_path, job_id=endpoint.job_id, base_model=config.base_model,
                                  dcp_save_interval=config.dcp_save_interval, total_steps=total,
                                  init_from_checkpoint=config.init_from_checkpoint)
                mode, start = ck.mode, ck.start_step
                consumed = ck.start_data_consumed
                if mode is not ResumeMode.COMPLETE:
                    adam = AdamParams(learning_rate=config.learning_rate)
                    for step in range(start, total):
                        batch = [data[(consumed + i) % len(data)] for i in range(config.batch_size)]
                        fb = tc.forward_backward(batch, "cross_entropy")
                        opt = tc.optim_step(adam)
                        out = fb.result()
                        opt.result()
                        consumed += len(batch)
                        losses.append(out.metrics.get("loss:sum", float("nan")) /
                                      max(out.metrics.get("num_tokens:sum", 1.0), 1.0))
                        if step + 1 < total:
                            ck.step_done(step + 1, consumed)
                    ck.finish(total, consumed)
                ck.close()
        finally:
            if config.delete_trainer_on_exit:
                mgr.delete(endpoint.job_id)
    return {"job_id": endpoint.job_id, "mode": mode.name, "start_step": start, "total_steps": total,
            "steps_run": len(losses), "losses": losses, "data_consumed": consumed}
