"""The training client: every op, its results, and the RL losses."""
import math

import pytest

from conftest import API_KEY, BASE_MODEL, datum, new_id


def test_properties(tc, job):
    assert tc.session_id and tc.model_id
    assert len(tc.session_suffix) == 8
    assert tc.base_url == job.base_url
    assert tc.last_sampler_snapshot is None


def test_forward_backward_then_optim_step_lowers_loss(fw, tc):
    batch = [datum(fw, b"the quick brown fox"), datum(fw, b"jumps over")]
    before = tc.forward(batch, "cross_entropy").result()
    assert before.loss_fn_output_type
    assert len(before.loss_fn_outputs) == 2
    lp = before.loss_fn_outputs[0]["logprobs"]
    assert len(lp.tolist()) == len(b"the quick brown fox") - 1
    assert all(x <= 0.0 for x in lp.data)
    for _ in range(3):
        fb = tc.forward_backward(batch, "cross_entropy")
        step = tc.optim_step(fw.AdamParams(learning_rate=1e-2))
        assert "loss:sum" in fb.result().metrics
        assert step.result().metrics["step"] >= 1
    after = tc.forward(batch).result()
    assert after.metrics["loss:sum"] < before.metrics["loss:sum"]


def test_datum_from_tokens_and_array_inputs(fw, tc):
    import array
    toks = array.array("q", list(b"abcdef"))
    d = fw.Datum.from_tokens(toks[:-1], toks[1:], weights=array.array("f", [1.0] * 5))
    out = tc.forward([d]).result()
    assert len(out.loss_fn_outputs[0]["logprobs"].data) == 5


@pytest.mark.parametrize("loss", ["importance_sampling", "ppo", "cispo", "dro"])
def test_rl_losses(fw, tc, loss):
    toks = list(b"reward me")
    d = fw.Datum(model_input=fw.ModelInput.from_ints(toks[:-1]),
                 loss_fn_inputs={"target_tokens": toks[1:], "logprobs": [-1.0] * 8, "advantages": [0.5] * 8})
    cfg = {"clip_low_threshold": 0.8, "clip_high_threshold": 1.2} if loss == "ppo" else None
    out = tc.forward_backward([d], loss, loss_fn_config=cfg).result()
    assert out.loss_fn_output_type
    assert all(math.isfinite(v) for v in out.metrics.values())


def test_rl_loss_without_advantages_is_refused_before_sending(fw, tc):
    toks = list(b"abc")
    d = fw.Datum(model_input=toks[:-1], loss_fn_inputs={"target_tokens": toks[1:], "logprobs": [-1.0, -1.0]})
    with pytest.raises(fw.InvalidArgumentError) as ei:
        tc.forward_backward([d], "ppo")
    assert "advantages" in str(ei.value)


def test_save_load_state_and_list(fw, tc):
    r = tc.save_state("state-a", ttl_seconds=3600).result()
    assert r.path
    assert "state-a" in tc.list_checkpoints()
    assert tc.load_state("state-a").result().path is not None
    assert tc.load_state_with_optimizer("state-a").result().path is not None


def test_sampler_saves_base_then_delta(fw, tc):
    base = tc.save_weights_for_sampler_ext("samp-0001", checkpoint_type="base")
    assert base.snapshot_name == "samp-0001-" + tc.session_suffix
    assert base.checkpoint_type == "base" and base.previous_snapshot_name is None
    tc.forward_backward([datum(fw)]).result()
    tc.optim_step().result()
    delta = tc.save_weights_for_sampler_ext("samp-0002", checkpoint_type="delta", ttl_seconds=3600)
    assert delta.checkpoint_type == "delta"
    assert delta.previous_snapshot_name == base.snapshot_name
    assert tc.last_sampler_snapshot == delta.snapshot_name
    auto = tc.save_weights_for_sampler_ext_async("samp-0003").result(60)
    assert auto.checkpoint_type == "delta"


def test_resolve_checkpoint_path(fw, tc):
    assert tc.resolve_checkpoint_path("step-4", source_job_id="previous-job-id") == "cross_job://previous-job-id/step-4"
    assert tc.resolve_checkpoint_path("gs://b/x") == "gs://b/x"
    assert fw.resolve_checkpoint_path("step-4") == "step-4"
    with pytest.raises(ValueError):
        fw.resolve_checkpoint_path("a/b", source_job_id="j")


def test_cross_job_load(fw, mgr, tc, job):
    tc.save_state("xjob-1").result()
    other = mgr.create_and_wait(fw.TrainerJobConfig(base_model=BASE_MODEL, job_id=new_id("other")),
                                poll_interval_s=0.05, timeout_s=60)
    with mgr.create_training_client(other.job_id) as t2:
        ref = t2.resolve_checkpoint_path("xjob-1", source_job_id=job.job_id)
        t2.load_state_with_optimizer(ref).result()


def test_load_missing_state_fails_on_the_future(fw, tc):
    fut = tc.load_state("no-such-state")
    with pytest.raises(fw.FwtrainError) as ei:
        fut.result(60)
    assert isinstance(fut.exception(), fw.FwtrainError)
    assert ei.value.code in (-6, -9, -11)


def test_service_client_on_the_endpoint_url(fw, server, job):
    with fw.FiretitanServiceClient(base_url=job.base_url, api_key=API_KEY) as svc:
        t = svc.create_training_client(base_model=BASE_MODEL, lora_rank=0)
        assert t.base_url == job.base_url
        assert t.forward([datum(fw)]).result().metrics
    assert t.closed  # closing the service client closed its sessions


def test_unload_model(fw, mgr, job):
    t = mgr.create_training_client(job)
    t.unload_model().result(60)
    with pytest.raises(fw.StateError):
        t.forward([datum(fw)])
    t.close()
