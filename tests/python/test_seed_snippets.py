"""Every call the Python examples of the two reference documents make (checkpoints-and-resume, and
saving-and-loading), made call for call with the same arguments against fwtrain-local, through fwtrain
with only the import lines changed. The documents' own text stays outside the repository: these calls are
written for the test. What a snippet leaves implicit (the `...` of a Config, which job the checkpoint
names belong to, the running deployment) is set up here first, on the local server.
"""
import json
import os

import pytest

from conftest import API_KEY, new_id

QWEN = "accounts/fireworks/models/qwen3-8b"
SHAPE = "accounts/fireworks/trainingShapes/qwen3-8b-128k-h200"


@pytest.fixture()
def user_env(env, monkeypatch, tmp_path):
    """A user's shell: key and URL in the environment, a working directory with data.jsonl."""
    monkeypatch.chdir(tmp_path)
    with open("data.jsonl", "w") as f:
        for i in range(12):
            f.write(json.dumps({"prompt": "Q%d: what is %d+%d? " % (i, i, i), "completion": "A: %d\n" % (2 * i)})
                    + "\n")
    return env


def test_checkpoints_and_resume_quickstart(user_env, fw):
    # from training.recipes.sft_loop import Config, main / from training.utils import InfraConfig
    from fwtrain.recipes.sft_loop import Config, main
    from fwtrain.utils import InfraConfig

    config = Config(
        log_path="./my_training",
        base_model="accounts/fireworks/models/qwen3-8b",
        dataset="data.jsonl",
        tokenizer_model="Qwen/Qwen3-8B",
        dcp_save_interval=10,  # save every 10 steps
        infra=InfraConfig(
            training_shape_id="accounts/fireworks/trainingShapes/qwen3-8b-128k-h200",
        ),
    )
    # The doc's 12-line dataset is ours; 24 steps at the default batch of 4 make two periodic saves.
    config.epochs = 8
    first = main(config)
    assert first["mode"] == "FRESH" and first["steps_run"] == first["total_steps"] == 24
    reg = fw.read_checkpoints("./my_training")
    assert [(e.name, e.kind.name) for e in reg] == [("step-10", "STATE"), ("step-20", "STATE"), ("step-24", "BOTH")]
    # "If interrupted, just run again with the same config": it finds the last checkpoint and is done.
    again = main(config)
    assert again["mode"] == "COMPLETE" and again["steps_run"] == 0

    # An interrupted run: keep the registry up to step-10 only, then rerun: it resumes at step 10.
    lines = open("my_training/checkpoints.jsonl").read().splitlines(True)
    with open("my_training/checkpoints.jsonl", "w") as f:
        f.write(lines[0])
    resumed = main(config)
    assert resumed["mode"] == "AUTO" and resumed["start_step"] == 10 and resumed["steps_run"] == 14


def test_checkpoints_and_resume_init_and_promote(user_env, fw, mgr):
    from fwtrain.recipes.sft_loop import Config, main
    from fwtrain import FireworksClient

    # The jobs the snippets name: "i44pvd4syzg8hjfk" holding step-4, "job-abc" holding step-50-a1b2c3d4.
    for job_id in ("i44pvd4syzg8hjfk", "job-abc"):
        mgr.create_and_wait(fw.TrainerJobConfig(base_model=QWEN, job_id=job_id), poll_interval_s=0.05, timeout_s=60)
    with mgr.create_training_client("i44pvd4syzg8hjfk") as t:
        t.save_state("step-4").result()
    with mgr.create_training_client("job-abc", session_suffix="a1b2c3d4") as t:
        assert t.save_weights_for_sampler_ext("step-50", checkpoint_type="base").snapshot_name == "step-50-a1b2c3d4"

    config = Config(
        log_path="./new_run",
        init_from_checkpoint="i44pvd4syzg8hjfk:step-4",  # job_id:checkpoint_name
        base_model=QWEN, dataset="data.jsonl", tokenizer_model="Qwen/Qwen3-8B",   # the snippet's "..."
    )
    out = main(config)
    assert out["mode"] == "INIT" and out["start_step"] == 0

    api_key = os.environ["FIREWORKS_API_KEY"]
    client = FireworksClient(api_key=api_key)
    model = client.promote_checkpoint("job-abc", "step-50-a1b2c3d4", "my-fine-tuned-model")
    assert model["name"] == "accounts/local/models/my-fine-tuned-model"


def test_saving_and_loading(user_env, fw, mgr, deploy_mgr):
    from fwtrain import FireworksClient, WeightSyncer

    endpoint = mgr.create_and_wait(fw.TrainerJobConfig(base_model=QWEN, job_id=new_id("sl"),
                                                       training_shape_ref=SHAPE), poll_interval_s=0.05, timeout_s=60)
    training_client = mgr.create_training_client(endpoint)
    api_key = os.environ["FIREWORKS_API_KEY"]

    # Saving checkpoints: base first, then deltas, then a delta with a TTL.
    result = training_client.save_weights_for_sampler_ext(
        "step-0001",
        checkpoint_type="base",
    )
    assert result.snapshot_name == "step-0001-" + training_client.session_suffix
    base_result = result
    result = training_client.save_weights_for_sampler_ext(
        "step-0010",
        checkpoint_type="delta",
    )
    assert result.checkpoint_type == "delta"
    result = training_client.save_weights_for_sampler_ext(
        "temp-checkpoint",
        checkpoint_type="delta",
        ttl_seconds=3600,
    )
    assert result.snapshot_name.startswith("temp-checkpoint-")

    # Promoting (the snippet's `result` is a base save: deltas are not promotable).
    result = base_result
    client = FireworksClient(api_key=api_key)
    model = client.promote_checkpoint(
        job_id=endpoint.job_id,
        checkpoint_id=result.snapshot_name,
        output_model_id="my-fine-tuned-qwen3-8b",
    )
    assert model["name"].endswith("/models/my-fine-tuned-qwen3-8b") and model["state"] == "READY"

    # Weight sync onto "my-deployment", attached to this trainer.
    deploy_mgr.create_or_get(fw.DeploymentConfig(deployment_id="my-deployment", base_model=QWEN,
                                                 hot_load_trainer_job=endpoint.job_id))
    syncer = WeightSyncer(
        policy_client=training_client,
        deploy_mgr=deploy_mgr,
        deployment_id="my-deployment",
        base_model="accounts/fireworks/models/qwen3-8b",
        hotload_timeout=600,
        first_checkpoint_type="base",
    )
    for step in (1, 2):
        syncer.save_and_hotload(f"step-{step:05d}")
    status = deploy_mgr.hotload_check_status("my-deployment", QWEN)
    assert status["replicas"][0]["current_snapshot_identity"] == "step-00002-" + training_client.session_suffix

    # Train-state checkpoints.
    training_client.save_state("train_state_step_100").result()
    training_client.load_state_with_optimizer("train_state_step_100").result()

    # Cross-job resolution: "previous-job-id" holds step-4.
    mgr.create_and_wait(fw.TrainerJobConfig(base_model=QWEN, job_id="previous-job-id"), poll_interval_s=0.05,
                        timeout_s=60)
    with mgr.create_training_client("previous-job-id") as prev:
        prev.save_state("step-4").result()
    checkpoint_ref = training_client.resolve_checkpoint_path(
        "step-4",
        source_job_id="previous-job-id",
    )
    training_client.load_state_with_optimizer(checkpoint_ref).result()

    # Listing.
    checkpoint_names = training_client.list_checkpoints()
    print(checkpoint_names)
    assert "train_state_step_100" in checkpoint_names
    syncer.close()
    training_client.close()
    client.close()
