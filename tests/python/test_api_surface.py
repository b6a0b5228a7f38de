"""Every public name of the package is documented and fully annotated (py.typed promises the latter),
and the official SDK's names exist with their call shapes."""
import inspect
import os

import pytest


def _public_callables(fw):
    for name in fw.__all__:
        obj = getattr(fw, name)
        if inspect.isclass(obj):
            yield name, obj
            for mname, m in vars(obj).items():
                if mname.startswith("_") and mname != "__init__":
                    continue
                if isinstance(m, property):
                    yield "%s.%s" % (name, mname), m.fget
                elif inspect.isfunction(m) or isinstance(m, (staticmethod, classmethod)):
                    yield "%s.%s" % (name, mname), getattr(m, "__func__", m)
        elif inspect.isfunction(obj):
            yield name, obj


def test_docstrings_and_annotations(fw):
    problems = []
    for name, obj in _public_callables(fw):
        if not inspect.getdoc(obj) and not name.endswith("__init__"):
            problems.append("%s: no docstring" % name)
        if inspect.isfunction(obj):
            sig = inspect.signature(obj)
            for p in sig.parameters.values():
                if p.name in ("self", "cls"):
                    continue
                if p.annotation is inspect.Parameter.empty:
                    problems.append("%s: parameter %s not annotated" % (name, p.name))
            if sig.return_annotation is inspect.Signature.empty:
                problems.append("%s: return not annotated" % name)
    assert not problems, "\n".join(problems)


def test_py_typed_ships(fw):
    assert os.path.isfile(os.path.join(os.path.dirname(fw.__file__), "py.typed"))


@pytest.mark.parametrize("cls,method,params", [
    ("FireworksClient", "__init__", ["api_key", "base_url"]),
    ("FireworksClient", "promote_checkpoint", ["job_id", "checkpoint_id", "output_model_id", "base_model"]),
    ("FireworksClient", "list_checkpoints", ["job_id"]),
    ("TrainerJobManager", "create", ["config"]),
    ("TrainerJobManager", "wait_for_ready", ["job_id", "job_name", "poll_interval_s", "timeout_s"]),
    ("TrainerJobManager", "create_and_wait", ["config", "poll_interval_s", "timeout_s"]),
    ("TrainerJobManager", "resume_and_wait", ["job_id", "poll_interval_s", "timeout_s"]),
    ("TrainerJobManager", "reconnect_and_wait", ["job_id", "poll_interval_s", "timeout_s", "max_wait_for_resumable_s"]),
    ("TrainerJobManager", "get", ["job_id"]),
    ("TrainerJobManager", "delete", ["job_id"]),
    ("DeploymentManager", "create_or_get", ["config", "force_recreate"]),
    ("DeploymentManager", "hotload", ["deployment_id", "base_model", "snapshot_identity",
                                      "incremental_snapshot_metadata", "reset_prompt_cache"]),
    ("DeploymentManager", "wait_for_hotload", ["deployment_id", "base_model", "expected_identity", "timeout_seconds"]),
    ("DeploymentManager", "hotload_and_wait", ["deployment_id", "base_model", "snapshot_identity"]),
    ("DeploymentManager", "hotload_check_status", ["deployment_id", "base_model"]),
    ("DeploymentManager", "wait_for_ready", ["deployment_id", "timeout_s", "poll_interval_s"]),
    ("DeploymentManager", "reattach_trainer", ["deployment", "base_model", "trainer_job_name", "timeout_s"]),
    ("DeploymentManager", "warmup", ["model"]),
    ("FiretitanTrainingClient", "save_weights_for_sampler_ext", ["name", "checkpoint_type", "ttl_seconds"]),
    ("FiretitanTrainingClient", "resolve_checkpoint_path", ["name", "source_job_id"]),
    ("FiretitanTrainingClient", "forward_backward", ["data", "loss_fn", "loss_fn_config"]),
    ("FiretitanTrainingClient", "save_state", ["name", "ttl_seconds"]),
    ("WeightSyncer", "__init__", ["policy_client", "deploy_mgr", "deployment_id", "base_model", "hotload_timeout",
                                  "first_checkpoint_type"]),
    ("WeightSyncer", "save_and_hotload", ["name"]),
])
def test_official_call_shapes(fw, cls, method, params):
    sig = inspect.signature(getattr(getattr(fw, cls), method))
    names = [p for p in sig.parameters if p != "self"]
    assert names[:len(params)] == params or all(p in names for p in params), names
