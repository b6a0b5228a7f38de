"""Loading libfwtrain and declaring its C surface for ctypes (internal).

Struct layouts mirror include/fwtrain/*.h. Every options struct is filled by
its *_options_init() before Python sets a field, so defaults come from the
library, never from this file. Options structs only grow at their end (the
library's ABI rule); the trailing spare area keeps a newer library's _init
from writing past a Python-side copy. tests/python/test_layout.py compares
every size and offset here with the C compiler's.

ctypes.CDLL releases the GIL for the duration of every foreign call, so a
blocking wait in C never stalls other Python threads; callbacks the library
makes from its worker thread take the GIL themselves (ctypes does it).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
import sysconfig
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char, c_char_p, c_double, c_float, c_int, c_int32,
                    c_int64, c_size_t, c_uint, c_void_p)
from typing import List, Optional, Tuple

__all__ = ["lib", "library_path", "find_library_candidates"]

# ---- status codes (common.h) ----------------------------------------------------------------
FWT_OK = 0
FWT_EINVAL = -1
FWT_ENOMEM = -2
FWT_ETIMEDOUT = -3
FWT_ECANCELED = -4
FWT_EAUTH = -5
FWT_ENOTFOUND = -6
FWT_ERATELIMIT = -7
FWT_EEXPIRED = -8
FWT_EREMOTE = -9
FWT_EPROTO = -10
FWT_EHTTP = -11
FWT_ECONNECT = -12
FWT_EIO = -13
FWT_ECONFLICT = -14
FWT_ESTATE = -15
FWT_ETOOLARGE = -16
FWT_ETLS = -17
FWT_EAGAIN = -18
FWT_ECORRUPT = -19
FWT_EUNSUPPORTED = -20

_SPARE = ("_spare", c_char * 256)

PROGRESS_FN = CFUNCTYPE(None, c_int, c_int64, c_char_p, c_void_p)
LOG_FN = CFUNCTYPE(None, c_int, c_char_p, c_void_p)
FUTURE_CB = CFUNCTYPE(None, c_void_p, c_void_p)


class Error(Structure):
    """fwt_error (common.h)."""
    _fields_ = [("code", c_int32), ("http_status", c_int32), ("category", c_int32), ("attempts", c_int32),
                ("message", c_char_p), ("request_id", c_char_p)]


class WaitOptions(Structure):
    """fwt_wait_options (types.h): embedded in other options, so no spare area."""
    _fields_ = [("version", c_uint), ("reserved0", c_int32), ("timeout_ms", c_int64),
                ("poll_interval_ms", c_int64), ("poll_initial_ms", c_int64), ("progress", PROGRESS_FN),
                ("progress_payload", c_void_p)]


class ClientOptions(Structure):
    _fields_ = [("version", c_uint), ("base_url", c_char_p), ("api_key", c_char_p), ("account_id", c_char_p),
                ("hotload_base_url", c_char_p), ("inference_base_url", c_char_p),
                ("allow_insecure_http", c_int32), ("log_level", c_int32), ("log_fn", LOG_FN),
                ("log_payload", c_void_p), ("connect_timeout_ms", c_int64), ("header_timeout_ms", c_int64),
                ("body_timeout_ms", c_int64), ("retry_base_ms", c_int64), ("retry_cap_ms", c_int64),
                ("retry_budget_ms", c_int64), ("max_response_bytes", c_int64),
                ("heartbeat_interval_ms", c_int64), ("poll_floor_ms", c_int64),
                ("unreachable_timeout_ms", c_int64), ("proxy", c_char_p), ("max_concurrent_requests", c_int32),
                ("max_requests_per_host", c_int32), _SPARE]


class JobCreateOptions(Structure):
    _fields_ = [("version", c_uint), ("job_id", c_char_p), ("base_model", c_char_p), ("lora_rank", c_int32),
                ("max_context_length", c_int32), ("learning_rate", c_double), ("display_name", c_char_p),
                ("training_shape", c_char_p), ("skip_validations", c_int32), ("accelerator_count", c_int32),
                ("accelerator_type", c_char_p), ("node_count", c_int32), ("trainer_replica_count", c_int32),
                ("region", c_char_p), ("custom_image_tag", c_char_p), ("hot_load_deployment_id", c_char_p),
                ("extra_args", c_char_p), ("purpose", c_char_p), ("inactivity_timeout_s", c_int64),
                ("forward_only", c_int32), ("disable_inactivity_cleanup", c_int32), ("auto_shape", c_int32),
                ("reserved0", c_int32), _SPARE]


class JobWaitOptions(Structure):
    _fields_ = [("version", c_uint), ("reserved0", c_int32), ("wait", WaitOptions),
                ("pending_timeout_ms", c_int64), ("healthz_timeout_ms", c_int64), _SPARE]


class PromoteOptions(Structure):
    _fields_ = [("version", c_uint), ("disable_async", c_int32), ("hot_load_deployment_id", c_char_p),
                ("wait", WaitOptions), _SPARE]


class CheckpointListOptions(Structure):
    _fields_ = [("version", c_uint), ("page_size", c_int32), ("max_pages", c_int32), _SPARE]


class DeploymentCreateOptions(Structure):
    _fields_ = [("version", c_uint), ("base_model", c_char_p), ("description", c_char_p),
                ("min_replica_count", c_int32), ("max_replica_count", c_int32),
                ("hot_load_trainer_job", c_char_p), ("deployment_shape", c_char_p),
                ("accelerator_type", c_char_p), ("region", c_char_p), ("hot_load_bucket_type", c_char_p),
                ("disable_hot_load", c_int32), ("for_training", c_int32),
                ("skip_shape_validation", c_int32), ("disable_speculative_decoding", c_int32), _SPARE]


class HotloadOptions(Structure):
    """fwt_hotload_options: embedded in the weight syncer's options, so its spare area lives there."""
    _fields_ = [("version", c_uint), ("previous_snapshot_identity", c_char_p), ("compression_format", c_char_p),
                ("checksum_format", c_char_p), ("no_reset_prompt_cache", c_int32), ("reserved0", c_int32),
                ("source_url", c_char_p)]


class WarmupOptions(Structure):
    """fwt_warmup_options: embedded in the weight syncer's options."""
    _fields_ = [("version", c_uint), ("max_tries", c_int32), ("max_tokens", c_int32), ("reserved0", c_int32),
                ("retry_interval_ms", c_int64), ("request_timeout_ms", c_int64), ("progress", PROGRESS_FN),
                ("progress_payload", c_void_p)]


class HotloadOptionsBuf(Structure):
    _fields_ = [("o", HotloadOptions), _SPARE]


class WarmupOptionsBuf(Structure):
    _fields_ = [("o", WarmupOptions), _SPARE]


class TrainingOptions(Structure):
    _fields_ = [("version", c_uint), ("job_id", c_char_p), ("trainer_url", c_char_p), ("base_model", c_char_p),
                ("lora_rank", c_int32), ("reserved0", c_int32), ("op_timeout_ms", c_int64),
                ("session_suffix", c_char_p), ("keep_model_on_free", c_int32), ("reserved1", c_int32),
                ("unload_timeout_ms", c_int64), ("poll_header_timeout_ms", c_int64),
                ("poll_body_timeout_ms", c_int64), _SPARE]


class Datum(Structure):
    """fwt_datum (training.h): filled by Python only (after fwt_datum_init)."""
    _fields_ = [("version", c_uint), ("tokens", POINTER(c_int64)), ("n_tokens", c_size_t),
                ("target_tokens", POINTER(c_int64)), ("n_target_tokens", c_size_t),
                ("weights", POINTER(c_float)), ("n_weights", c_size_t),
                ("logprobs", POINTER(c_float)), ("n_logprobs", c_size_t),
                ("advantages", POINTER(c_float)), ("n_advantages", c_size_t), _SPARE]


class LossConfig(Structure):
    _fields_ = [("version", c_uint), ("keys", POINTER(c_char_p)), ("values", POINTER(c_double)), ("n", c_size_t),
                _SPARE]


class AdamParams(Structure):
    _fields_ = [("version", c_uint), ("learning_rate", c_double), ("beta1", c_double), ("beta2", c_double),
                ("eps", c_double), ("weight_decay", c_double), ("grad_clip_norm", c_double), _SPARE]


class SampleRequest(Structure):
    _fields_ = [("version", c_uint), ("prompt_text", c_char_p), ("prompt_tokens", POINTER(c_int64)),
                ("n_prompt_tokens", c_size_t), ("max_tokens", c_int32), ("n", c_int32), ("temperature", c_double),
                ("top_p", c_double), ("top_k", c_int32), ("logprobs", c_int32), ("echo", c_int32),
                ("has_seed", c_int32), ("seed", c_int64), ("stop", POINTER(c_char_p)), ("n_stop", c_size_t),
                ("request_timeout_ms", c_int64), ("hotload_retry_interval_ms", c_int64),
                ("hotload_retry_timeout_ms", c_int64), _SPARE]


class RegistryEntry(Structure):
    _fields_ = [("version", c_uint), ("name", c_char_p), ("step", c_int64), ("data_consumed", c_int64),
                ("state_path", c_char_p), ("sampler_path", c_char_p), ("source_job_id", c_char_p),
                ("base_model", c_char_p), ("n_extra", c_size_t), ("extra", c_void_p)]  # extra: version 2


class RegistryEntryBuf(Structure):
    _fields_ = [("e", RegistryEntry), _SPARE]


class PromoteOptionsEmbedded(Structure):
    """fwt_promote_options as embedded in fwt_checkpointer_options: its spare area lives there."""
    _fields_ = [f for f in PromoteOptions._fields_ if f[0] != "_spare"]


CLOCK_MS_FN = CFUNCTYPE(c_int64, c_void_p)


class CheckpointerOptions(Structure):
    _fields_ = [("version", c_uint), ("log_path", c_char_p), ("job_id", c_char_p), ("base_model", c_char_p),
                ("dcp_save_interval", c_int64), ("total_steps", c_int64), ("init_from_checkpoint", c_char_p),
                ("init_weights_only", c_int32), ("reserved0", c_int32), ("op_timeout_ms", c_int64),
                ("resume_source", c_int32), ("max_recoveries", c_int32), ("ttl_seconds", c_int64),
                ("save_interval_ms", c_int64), ("clock_ms", CLOCK_MS_FN), ("clock_payload", c_void_p),
                ("async_saves", c_int32), ("log_dir_policy", c_int32), ("output_model_id", c_char_p),
                ("promote", PromoteOptionsEmbedded), _SPARE]


class WeightSyncerOptions(Structure):
    _fields_ = [("version", c_uint), ("lora_rank", c_int32), ("deployment_id", c_char_p),
                ("base_model", c_char_p), ("first_sampler_type", c_int32), ("disable_warmup", c_int32),
                ("save_timeout_ms", c_int64), ("save_ttl_seconds", c_int64), ("manager_wait", WaitOptions),
                ("hotload", HotloadOptions), ("hotload_wait", WaitOptions), ("warmup", WarmupOptions), _SPARE]


class SyncTiming(Structure):
    _fields_ = [("version", c_uint), ("type", c_int32), ("save_ms", c_int64), ("hotload_ms", c_int64),
                ("warmup_ms", c_int64), ("total_ms", c_int64), _SPARE]


# The structs test_layout.py checks against C: Python name -> (C type, its fields in order).
LAYOUTS = {
    "fwt_error": Error, "fwt_wait_options": WaitOptions, "fwt_client_options": ClientOptions,
    "fwt_job_create_options": JobCreateOptions, "fwt_job_wait_options": JobWaitOptions,
    "fwt_promote_options": PromoteOptions, "fwt_checkpoint_list_options": CheckpointListOptions,
    "fwt_deployment_create_options": DeploymentCreateOptions, "fwt_hotload_options": HotloadOptions,
    "fwt_warmup_options": WarmupOptions, "fwt_training_options": TrainingOptions, "fwt_datum": Datum,
    "fwt_loss_config": LossConfig, "fwt_adam_params": AdamParams, "fwt_sample_request": SampleRequest,
    "fwt_registry_entry": RegistryEntry, "fwt_checkpointer_options": CheckpointerOptions,
    "fwt_weight_syncer_options": WeightSyncerOptions, "fwt_sync_timing": SyncTiming,
}

P = c_void_p
PP = POINTER(c_void_p)
S = c_char_p
I = c_int
I64 = c_int64
SZ = c_size_t
PSZ = POINTER(c_size_t)

# name: (restype, argtypes)
_SIGNATURES = {
    # common / types
    "fwt_version_string": (S, []), "fwt_version_num": (I, []), "fwt_strerror": (S, [I]),
    "fwt_error_last": (POINTER(Error), []), "fwt_free": (None, [P]),
    "fwt_string_list_count": (SZ, [P]), "fwt_string_list_get": (S, [P, SZ]), "fwt_string_list_free": (None, [P]),
    "fwt_progress_stage_name": (S, [I]), "fwt_wait_options_init": (I, [POINTER(WaitOptions), c_uint]),
    # client
    "fwt_client_options_init": (I, [POINTER(ClientOptions), c_uint]),
    "fwt_client_new": (I, [PP, POINTER(ClientOptions)]), "fwt_client_free": (None, [P]),
    "fwt_client_base_url": (S, [P]), "fwt_client_account_id": (I, [POINTER(c_char_p), P]),
    # futures
    "fwt_future_is_done": (I, [P]), "fwt_future_wait": (I, [P, I64]), "fwt_future_status": (I, [P]),
    "fwt_future_cancel": (I, [P]), "fwt_future_on_done": (I, [P, FUTURE_CB, P]),
    "fwt_future_error": (POINTER(Error), [P]), "fwt_future_free": (None, [P]),
    # jobs
    "fwt_job_create_options_init": (I, [POINTER(JobCreateOptions), c_uint]),
    "fwt_job_create": (I, [PP, P, POINTER(JobCreateOptions)]), "fwt_job_get": (I, [PP, P, S]),
    "fwt_job_resume": (I, [P, S]), "fwt_job_delete": (I, [PP, P, S]), "fwt_job_delete_result": (I, [P, S, I64]),
    "fwt_job_free": (None, [P]), "fwt_job_name": (S, [P]), "fwt_job_id": (S, [P]),
    "fwt_job_account_id": (S, [P]), "fwt_job_state": (S, [P]), "fwt_job_is_tombstone": (I, [P]),
    "fwt_job_status_message": (S, [P]), "fwt_job_create_time": (S, [P]), "fwt_job_base_model": (S, [P]),
    "fwt_job_lora_rank": (c_int32, [P]), "fwt_job_max_context_length": (c_int32, [P]),
    "fwt_job_ready_route": (I, [P]), "fwt_job_hot_load_deployment_id": (S, [P]),
    "fwt_job_direct_route_handle": (S, [P]), "fwt_job_trainer_url": (S, [P]),
    "fwt_job_trainer_url_build": (I, [PP, P, S]),
    "fwt_job_wait_options_init": (I, [POINTER(JobWaitOptions), c_uint]),
    "fwt_job_wait_ready": (I, [PP, P, S, POINTER(JobWaitOptions)]), "fwt_future_take_job": (I, [PP, P]),
    "fwt_job_open_training": (I, [PP, P, P, POINTER(TrainingOptions)]),
    "fwt_model_name": (S, [P]), "fwt_model_state": (S, [P]), "fwt_model_kind": (S, [P]),
    "fwt_model_base_model": (S, [P]), "fwt_model_free": (None, [P]),
    "fwt_promote_options_init": (I, [POINTER(PromoteOptions), c_uint]),
    "fwt_promote_validate_output_model_id": (I, [S]),
    "fwt_promote_checkpoint": (I, [PP, P, S, S, S, POINTER(PromoteOptions)]),
    "fwt_promote_checkpoint_by_id": (I, [PP, P, S, S, S, S, POINTER(PromoteOptions)]),
    "fwt_future_take_model": (I, [PP, P]),
    # checkpoint listing
    "fwt_checkpoint_list_options_init": (I, [POINTER(CheckpointListOptions), c_uint]),
    "fwt_job_list_checkpoints": (I, [PP, P, S, POINTER(CheckpointListOptions)]),
    "fwt_checkpoint_list_count": (SZ, [P]), "fwt_checkpoint_list_get": (P, [P, SZ]),
    "fwt_checkpoint_list_free": (None, [P]), "fwt_checkpoint_row_name": (S, [P]),
    "fwt_checkpoint_row_id": (S, [P]), "fwt_checkpoint_row_job_id": (S, [P]),
    "fwt_checkpoint_row_create_time": (S, [P]), "fwt_checkpoint_row_create_time_us": (I64, [P]),
    "fwt_checkpoint_row_type": (S, [P]), "fwt_checkpoint_row_promotable": (I, [P]),
    "fwt_checkpoint_row_resumable": (I, [P]), "fwt_checkpoint_row_update_time": (S, [P]),
    "fwt_checkpoint_row_fields": (c_uint, [P]), "fwt_checkpoint_row_json": (S, [P]),
    "fwt_checkpoint_logical_name": (I, [PP, S]),
    # deployments
    "fwt_deployment_name": (S, [P]), "fwt_deployment_id": (S, [P]), "fwt_deployment_state": (S, [P]),
    "fwt_deployment_base_model": (S, [P]), "fwt_deployment_hot_load_trainer_job": (S, [P]),
    "fwt_deployment_hot_load_bucket_url": (S, [P]), "fwt_deployment_free": (None, [P]),
    "fwt_deployment_get": (I, [PP, P, S]),
    "fwt_deployment_create_options_init": (I, [POINTER(DeploymentCreateOptions), c_uint]),
    "fwt_deployment_create": (I, [PP, P, S, POINTER(DeploymentCreateOptions)]),
    "fwt_deployment_delete": (I, [PP, P, S, POINTER(WaitOptions)]),
    "fwt_deployment_reattach": (I, [PP, P, S, S]),
    "fwt_deployment_wait_ready": (I, [PP, P, S, POINTER(WaitOptions)]),
    "fwt_future_take_deployment": (I, [PP, P]),
    "fwt_hotload_options_init": (I, [POINTER(HotloadOptionsBuf), c_uint]),
    "fwt_deployment_hotload": (I, [P, S, S, S, POINTER(HotloadOptionsBuf)]),
    "fwt_hotload_status_replica_count": (SZ, [P]), "fwt_hotload_status_current_identity": (S, [P, SZ]),
    "fwt_hotload_status_ready": (I, [P, SZ]), "fwt_hotload_status_stage": (S, [P, SZ]),
    "fwt_hotload_status_target_identity": (S, [P, SZ]), "fwt_hotload_status_free": (None, [P]),
    "fwt_deployment_hotload_status": (I, [PP, P, S, S]),
    "fwt_deployment_wait_hotload": (I, [PP, P, S, S, S, POINTER(WaitOptions)]),
    "fwt_deployment_wait_hotload_ready": (I, [PP, P, S, S, POINTER(WaitOptions)]),
    "fwt_future_take_hotload_status": (I, [PP, P]),
    "fwt_warmup_options_init": (I, [POINTER(WarmupOptionsBuf), c_uint]),
    "fwt_deployment_warmup": (I, [PP, P, S, POINTER(WarmupOptionsBuf)]),
    # training
    "fwt_training_options_init": (I, [POINTER(TrainingOptions), c_uint]),
    "fwt_training_new": (I, [PP, P, POINTER(TrainingOptions)]), "fwt_training_free": (None, [P]),
    "fwt_training_session_id": (S, [P]), "fwt_training_session_suffix": (S, [P]),
    "fwt_training_model_id": (S, [P]), "fwt_training_url": (S, [P]),
    "fwt_training_create_model": (I, [PP, P]), "fwt_training_unload_model": (I, [PP, P]),
    "fwt_batch_new": (I, [PP]), "fwt_batch_free": (None, [P]), "fwt_batch_count": (SZ, [P]),
    "fwt_metrics_count": (SZ, [P]), "fwt_metrics_name": (S, [P, SZ]), "fwt_metrics_value": (c_double, [P, SZ]),
    "fwt_metrics_free": (None, [P]),
    "fwt_forward_output_type": (S, [P]), "fwt_forward_output_count": (SZ, [P]),
    "fwt_forward_output_logprobs": (POINTER(c_float), [P, SZ, PSZ]), "fwt_forward_output_metrics": (P, [P]),
    "fwt_forward_output_free": (None, [P]),
    "fwt_loss_fn_name": (S, [I]), "fwt_loss_fn_parse": (I, [POINTER(c_int), S]),
    "fwt_datum_init": (I, [POINTER(Datum), c_uint]), "fwt_batch_add_datum": (I, [P, POINTER(Datum)]),
    "fwt_loss_config_init": (I, [POINTER(LossConfig), c_uint]),
    "fwt_training_forward_backward_config": (I, [PP, P, P, I, POINTER(LossConfig)]),
    "fwt_training_forward": (I, [PP, P, P, I]),
    "fwt_adam_params_init": (I, [POINTER(AdamParams), c_uint]),
    "fwt_training_optim_step": (I, [PP, P, POINTER(AdamParams)]),
    "fwt_training_save_state": (I, [PP, P, S, I64]), "fwt_training_load_state": (I, [PP, P, S]),
    "fwt_training_load_state_with_optimizer": (I, [PP, P, S]),
    "fwt_sampler_type_name": (S, [I]), "fwt_sampler_type_parse": (I, [POINTER(c_int), S]),
    "fwt_sampler_save_path": (S, [P]), "fwt_sampler_save_snapshot_name": (S, [P]),
    "fwt_sampler_save_type": (I, [P]), "fwt_sampler_save_previous_snapshot_name": (S, [P]),
    "fwt_sampler_save_free": (None, [P]),
    "fwt_training_save_weights_for_sampler_ext": (I, [PP, P, S, I, I64]),
    "fwt_resolve_checkpoint_path": (I, [PP, S, S]), "fwt_training_list_checkpoints": (I, [PP, P]),
    "fwt_training_last_sampler_snapshot": (I, [PP, P]),
    "fwt_future_take_string": (I, [PP, P]), "fwt_future_take_forward_output": (I, [PP, P]),
    "fwt_future_take_metrics": (I, [PP, P]), "fwt_future_take_sampler_save": (I, [PP, P]),
    # sampling
    "fwt_sample_request_init": (I, [POINTER(SampleRequest), c_uint]),
    "fwt_sample": (I, [PP, P, S, POINTER(SampleRequest)]), "fwt_future_take_completion": (I, [PP, P]),
    "fwt_completion_count": (SZ, [P]), "fwt_completion_text": (S, [P, SZ]),
    "fwt_completion_tokens": (POINTER(c_int64), [P, SZ, PSZ]),
    "fwt_completion_logprobs": (POINTER(c_float), [P, SZ, PSZ]),
    "fwt_completion_finish_reason": (S, [P, SZ]),
    "fwt_completion_prompt_tokens": (POINTER(c_int64), [P, PSZ]),
    "fwt_completion_prompt_logprobs": (POINTER(c_float), [P, PSZ]),
    "fwt_completion_usage": (I, [P, POINTER(c_int64), POINTER(c_int64)]), "fwt_completion_free": (None, [P]),
    # cookbook: registry
    "fwt_checkpoint_kind_name": (S, [I]), "fwt_checkpoint_kind_parse": (I, [POINTER(c_int), S]),
    "fwt_registry_entry_init": (I, [POINTER(RegistryEntryBuf), c_uint]),
    "fwt_registry_read": (I, [PP, S]), "fwt_registry_read_file": (I, [PP, S]),
    "fwt_registry_count": (SZ, [P]), "fwt_registry_get": (POINTER(RegistryEntry), [P, SZ]),
    "fwt_registry_torn_bytes": (SZ, [P]), "fwt_registry_free": (None, [P]),
    "fwt_registry_last_resumable": (POINTER(RegistryEntry), [P]),
    "fwt_registry_latest_promotable": (POINTER(RegistryEntry), [P]),
    "fwt_registry_append": (I, [S, POINTER(RegistryEntryBuf)]),
    "fwt_checkpoint_spec_resolve": (I, [PP, S]),
    # cookbook: checkpointer
    "fwt_checkpointer_options_init": (I, [POINTER(CheckpointerOptions), c_uint]),
    "fwt_checkpointer_start": (I, [PP, P, POINTER(CheckpointerOptions)]), "fwt_checkpointer_free": (None, [P]),
    "fwt_checkpointer_mode": (I, [P]), "fwt_checkpointer_start_step": (I64, [P]),
    "fwt_checkpointer_start_data_consumed": (I64, [P]), "fwt_checkpointer_loaded_path": (S, [P]),
    "fwt_checkpointer_torn_bytes": (SZ, [P]), "fwt_checkpointer_is_complete": (I, [P]),
    "fwt_checkpointer_step_done": (I, [P, I64, I64, POINTER(c_int)]),
    "fwt_checkpointer_save": (I, [P, I64, I64, I]), "fwt_checkpointer_finish": (I, [P, I64, I64]),
    # cookbook: weight syncer
    "fwt_weight_syncer_options_init": (I, [POINTER(WeightSyncerOptions), c_uint]),
    "fwt_weight_syncer_new": (I, [PP, P, P, POINTER(WeightSyncerOptions)]), "fwt_weight_syncer_free": (None, [P]),
    "fwt_weight_syncer_save_and_hotload": (I, [PP, P, S, I]),
    "fwt_weight_syncer_save_only": (I, [PP, POINTER(c_int), P, S, I]),
    "fwt_weight_syncer_hotload": (I, [P, S, I]), "fwt_weight_syncer_reset_delta_chain": (None, [P]),
    "fwt_weight_syncer_cancel": (I, [P]), "fwt_weight_syncer_base_identity": (S, [P]),
    "fwt_weight_syncer_next_type": (I, [P]),
    "fwt_weight_syncer_last_timing": (I, [P, POINTER(SyncTiming)]),
    "fwt_weight_syncer_last_warmup_status": (I, [P]),
}


def _build_dirs() -> List[str]:
    """Build trees of the source checkout this package sits in (python/fwtrain -> repo root)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if not os.path.isfile(os.path.join(root, "include", "fwtrain", "fwtrain.h")):
        return []
    found = glob.glob(os.path.join(root, "build", "*", "src", "libfwtrain.so"))
    found += glob.glob(os.path.join(root, "build", "src", "libfwtrain.so"))
    # Newest first: the tree built last is the one the developer means.
    found.sort(key=lambda p: os.path.getmtime(p), reverse=True)
    return found


def _installed() -> List[str]:
    out: List[str] = []
    name = ctypes.util.find_library("fwtrain")  # ldconfig's cache: the installed runtime package
    if name:
        out.append(name)
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    for d in ("/usr/local/lib", os.path.join("/usr/local/lib", multiarch) if multiarch else "",
              os.path.join("/usr/lib", multiarch) if multiarch else "", "/usr/lib"):
        if d:
            # The runtime package ships only the versioned name (libfwtrain.so.<soversion>).
            out += sorted(glob.glob(os.path.join(d, "libfwtrain.so.*")), reverse=True)
            p = os.path.join(d, "libfwtrain.so")
            if os.path.exists(p):
                out.append(p)
    return out


def find_library_candidates() -> List[str]:
    """Where the package looks for libfwtrain, in order (FWTRAIN_LIB, build tree, installed tree)."""
    env = os.environ.get("FWTRAIN_LIB")
    cands: List[str] = []
    if env:
        cands.append(os.path.join(env, "libfwtrain.so") if os.path.isdir(env) else env)
    cands += _build_dirs()
    cands += _installed()
    return cands


def _load() -> Tuple[ctypes.CDLL, str]:
    env = os.environ.get("FWTRAIN_LIB")
    tried: List[str] = []
    for cand in find_library_candidates():
        try:
            dll = ctypes.CDLL(cand)
        except OSError as e:
            tried.append("%s (%s)" % (cand, e))
            if env and not tried[1:]:
                # An explicit FWTRAIN_LIB that fails is the answer: do not silently take another library.
                break
            continue
        return dll, cand
    where = ["FWTRAIN_LIB=%s" % (env if env else "(unset)"),
             "the build tree (build/*/src/libfwtrain.so next to this checkout)",
             "the installed tree (ldconfig cache, /usr/local/lib, /usr/lib)"]
    msg = ("fwtrain: cannot load libfwtrain. Looked in: %s. %s"
           "Build it (cmake --build build/gcc) or install it, or point at it with "
           "FWTRAIN_LIB=/path/to/libfwtrain.so. (A sanitizer-instrumented build cannot be loaded "
           "into Python without preloading its runtime.)"
           % ("; ".join(where), ("Tried: " + "; ".join(tried) + ". ") if tried else "Nothing found. "))
    raise ImportError(msg)


def _declare(dll: ctypes.CDLL) -> None:
    missing = []
    for name, (res, args) in _SIGNATURES.items():
        try:
            fn = getattr(dll, name)
        except AttributeError:
            missing.append(name)
            continue
        fn.restype = res
        fn.argtypes = args
    if missing:
        raise ImportError("fwtrain: the libfwtrain found lacks %s (too old a library?)" % ", ".join(missing))


lib, library_path = _load()
_declare(lib)

_EXPECTED_MAJOR = 0
if (lib.fwt_version_num() >> 16) != _EXPECTED_MAJOR:
    raise ImportError("fwtrain: libfwtrain %s at %s is not major version %d"
                      % (lib.fwt_version_string().decode(), library_path, _EXPECTED_MAJOR))


def s(v: Optional[bytes]) -> str:
    """Decode a borrowed C string ("" for NULL)."""
    return v.decode("utf-8", "replace") if v else ""


def opt_s(v: Optional[bytes]) -> Optional[str]:
    """Decode a borrowed C string (None for NULL)."""
    return v.decode("utf-8", "replace") if v is not None else None


def take_cstr(p: c_void_p) -> str:
    """Copy a library-allocated char * out and free it with fwt_free."""
    if not p.value:
        return ""
    try:
        return ctypes.string_at(p.value).decode("utf-8", "replace")
    finally:
        lib.fwt_free(p)

