"""DeploymentManager, sampling and the WeightSyncer against fwtrain-local."""
import pytest

from conftest import API_KEY, BASE_MODEL, datum, new_id


@pytest.fixture()
def deployment(fw, deploy_mgr, job):
    info = deploy_mgr.create_or_get(fw.DeploymentConfig(deployment_id=new_id("dep"), base_model=BASE_MODEL,
                                                        hot_load_trainer_job=job.job_id))
    deploy_mgr.wait_for_ready(info.deployment_id, timeout_s=60, poll_interval_s=0.05)
    yield info
    deploy_mgr.delete(info.deployment_id)


def test_create_get_wait_delete(fw, deploy_mgr, job):
    did = new_id("dep")
    cfg = fw.DeploymentConfig(deployment_id=did, base_model=BASE_MODEL, hot_load_trainer_job=job.job_id,
                              description="pytest deployment")
    info = deploy_mgr.create_or_get(cfg)
    assert info.deployment_id == did and info.name == "accounts/local/deployments/" + did
    assert info.inference_model == info.name
    assert info.hot_load_trainer_job.endswith("/rlorTrainerJobs/" + job.job_id)
    assert deploy_mgr.create_or_get(cfg).name == info.name            # get, not a second create
    ready = deploy_mgr.wait_for_ready(did, timeout_s=60, poll_interval_s=0.05)
    assert ready.state == "READY"
    got = deploy_mgr.get(did)
    assert got.base_model == BASE_MODEL and got.state == "READY"
    assert deploy_mgr.account_id == "local"
    deploy_mgr.delete(did)
    assert deploy_mgr.get(did) is None
    deploy_mgr.delete(did)                                             # gone already: fine
    assert deploy_mgr.wait_for_ready_async(did, timeout_s=5, poll_interval_s=0.05).exception(30) is not None


def test_force_recreate(fw, deploy_mgr, job):
    cfg = fw.DeploymentConfig(deployment_id=new_id("rec"), base_model=BASE_MODEL, hot_load_trainer_job=job.job_id)
    first = deploy_mgr.create_or_get(cfg)
    again = deploy_mgr.create_or_get(cfg, force_recreate=True)
    assert again.deployment_id == first.deployment_id
    deploy_mgr.delete(cfg.deployment_id)


def test_hotload_wait_status_warmup(fw, deploy_mgr, deployment, tc):
    did = deployment.deployment_id
    status = deploy_mgr.wait_for_hotload_ready(did, BASE_MODEL, timeout_s=60, poll_interval_s=0.05)
    assert status["replicas"]
    base = tc.save_weights_for_sampler_ext("hl-0001", checkpoint_type="base")
    assert deploy_mgr.hotload(did, BASE_MODEL, base.snapshot_name)["identity"] == base.snapshot_name
    assert deploy_mgr.wait_for_hotload(did, BASE_MODEL, base.snapshot_name, timeout_seconds=60, poll_interval=0.05)
    st = deploy_mgr.hotload_check_status(did, BASE_MODEL)
    assert st["replicas"][0]["current_snapshot_identity"] == base.snapshot_name
    assert st["replicas"][0]["readiness"] is True
    tc.forward_backward([datum(fw)]).result()
    tc.optim_step().result()
    delta = tc.save_weights_for_sampler_ext("hl-0002", checkpoint_type="delta")
    assert deploy_mgr.hotload_and_wait(
        did, BASE_MODEL, delta.snapshot_name,
        incremental_snapshot_metadata={"previous_snapshot_identity": base.snapshot_name,
                                       "compression_format": "arc_v2", "checksum_format": "alder32"},
        timeout_seconds=60)
    assert deploy_mgr.hotload_check_status(did, BASE_MODEL)["replicas"][0]["current_snapshot_identity"] == \
        delta.snapshot_name
    # An identity that never arrives: False with the reason kept, as the official SDK.
    assert deploy_mgr.wait_for_hotload(did, BASE_MODEL, "never-loaded", timeout_seconds=0.3,
                                       poll_interval=0.05) is False
    assert "never-loaded" in deploy_mgr.last_hotload_error
    assert deploy_mgr.warmup(did, max_retries=3, retry_interval_s=0.05) is True
    assert deploy_mgr.warmup(deployment.inference_model, max_retries=3, retry_interval_s=0.05) is True
    assert deploy_mgr.warmup("no-such-deployment", max_retries=2, retry_interval_s=0.05) is False


def test_reattach(fw, mgr, deploy_mgr, deployment):
    other = mgr.create_and_wait(fw.TrainerJobConfig(base_model=BASE_MODEL, job_id=new_id("re")),
                                poll_interval_s=0.05, timeout_s=60)
    info = deploy_mgr.reattach_trainer(deployment, base_model=BASE_MODEL, trainer_job_name=other.job_name,
                                       timeout_s=60, poll_interval_s=0.05)
    assert info.hot_load_trainer_job == other.job_name
    assert deploy_mgr.get(deployment.deployment_id).hot_load_trainer_job == other.job_name


def test_sampling(fw, deploy_mgr, deployment, tc):
    did = deployment.deployment_id
    snap = tc.save_weights_for_sampler_ext("smp-1", checkpoint_type="base").snapshot_name
    assert deploy_mgr.hotload_and_wait(did, BASE_MODEL, snap, timeout_seconds=60)
    sampler = deploy_mgr.sampler(did)
    r = sampler.sample("hello", max_tokens=8, n=3, temperature=1.0, logprobs=True, seed=7).result(60)
    assert len(r.completions) == 3
    for c in r.completions:
        assert len(c.tokens) == len(c.logprobs) <= 8 and c.finish_reason
        assert all(lp <= 0.0 for lp in c.logprobs)
    assert r.usage_prompt_tokens > 0 and r.usage_completion_tokens == sum(len(c.tokens) for c in r.completions)
    again = sampler.sample("hello", max_tokens=8, n=3, temperature=1.0, logprobs=True, seed=7).result(60)
    assert [c.tokens for c in again.completions] == [c.tokens for c in r.completions]
    echo = fw.SamplingClient(deploy_mgr, did).sample(list(b"abc"), max_tokens=0, echo=True, logprobs=True,
                                                     stop=["\n"]).result(60)
    assert echo.prompt_tokens == list(b"abc") and len(echo.prompt_logprobs) == 3
    with pytest.raises(ValueError, match="top_p"):
        sampler.sample("x", top_p=0.0)
    with pytest.raises(TypeError, match="prompt"):
        sampler.sample(None)
    with pytest.raises(fw.NotFoundError):
        fw.SamplingClient(deploy_mgr, "no-such-dep").sample("x", hotload_retry_timeout_s=0.2).result(60)


def test_rl_step_from_samples(fw, deploy_mgr, deployment, tc):
    """Sample with logprobs, then an importance_sampling step on those samples."""
    did = deployment.deployment_id
    snap = tc.save_weights_for_sampler_ext("rl-0", checkpoint_type="base").snapshot_name
    deploy_mgr.hotload_and_wait(did, BASE_MODEL, snap, timeout_seconds=60)
    prompt = list(b"Q: ")
    r = deploy_mgr.sampler(did).sample(prompt, max_tokens=6, n=4, logprobs=True).result(60)
    data = []
    for k, c in enumerate(r.completions):
        if not c.tokens:
            continue
        seq = prompt + c.tokens
        adv = 1.0 if k % 2 else -1.0
        n = len(seq) - 1
        data.append(fw.Datum(model_input=fw.ModelInput.from_ints(seq[:-1]), loss_fn_inputs={
            "target_tokens": seq[1:], "logprobs": [0.0] * (len(prompt) - 1) + c.logprobs,
            "advantages": [0.0] * (len(prompt) - 1) + [adv] * len(c.tokens)}))
        assert len(data[-1].loss_fn_inputs["logprobs"]) == n
    out = tc.forward_backward(data, "importance_sampling").result(60)
    assert len(out.loss_fn_outputs) == len(data)
    tc.optim_step().result(60)


def test_weight_syncer(fw, deploy_mgr, deployment, tc):
    syncer = fw.WeightSyncer(policy_client=tc, deploy_mgr=deploy_mgr, deployment_id=deployment.deployment_id,
                             base_model=BASE_MODEL, hotload_timeout=60, first_checkpoint_type="base")
    assert syncer.next_checkpoint_type == "base"
    s1 = syncer.save_and_hotload("step-00001")
    assert s1 == "step-00001-" + tc.session_suffix
    assert syncer.base_identity == s1
    assert syncer.last_timing.checkpoint_type == "base" and syncer.last_timing.total_ms >= 0
    assert syncer.next_checkpoint_type == "delta"
    tc.forward_backward([datum(fw)]).result()
    tc.optim_step().result()
    s2 = syncer.save_and_hotload("step-00002")
    assert syncer.last_timing.checkpoint_type == "delta"
    st = deploy_mgr.hotload_check_status(deployment.deployment_id, BASE_MODEL)
    assert st["replicas"][0]["current_snapshot_identity"] == s2
    s3 = syncer.save_only("step-00003")
    syncer.hotload(s3, "delta")
    syncer.reset_delta_chain()
    assert syncer.next_checkpoint_type == "base"
    syncer.cancel()   # nothing in progress: a no-op
    syncer.close()
    syncer.close()
    with pytest.raises(ValueError):
        syncer.save_and_hotload("late")


def test_weight_syncer_arguments(fw, deploy_mgr, tc):
    with pytest.raises(TypeError, match="policy_client"):
        fw.WeightSyncer(policy_client=None)
    with pytest.raises(ValueError, match="deploy_mgr"):
        fw.WeightSyncer(policy_client=tc, deployment_id="d")
    with pytest.raises(TypeError, match="base_model"):
        fw.WeightSyncer(policy_client=tc, deploy_mgr=deploy_mgr, deployment_id="d")
    with pytest.raises(ValueError, match="hotload_timeout"):
        fw.WeightSyncer(policy_client=tc, deploy_mgr=deploy_mgr, deployment_id="d", base_model=BASE_MODEL,
                        hotload_timeout=-1)
    with pytest.raises(ValueError, match="first_checkpoint_type"):
        fw.WeightSyncer(policy_client=tc, first_checkpoint_type="full")
    saver = fw.WeightSyncer(policy_client=tc)     # no deployment: saves only
    assert saver.save_and_hotload("only-save").startswith("only-save-")
    saver.close()


def test_deployment_arguments(fw, deploy_mgr):
    with pytest.raises(TypeError, match="config"):
        deploy_mgr.create_or_get({"deployment_id": "x"})
    with pytest.raises(ValueError, match="config.deployment_id"):
        deploy_mgr.create_or_get(fw.DeploymentConfig(deployment_id="", base_model=BASE_MODEL))
    with pytest.raises(ValueError, match="max_replica_count"):
        deploy_mgr.create_or_get(fw.DeploymentConfig(deployment_id="x", base_model=BASE_MODEL, max_replica_count=-1))
    with pytest.raises(TypeError, match="incremental_snapshot_metadata"):
        deploy_mgr.hotload("d", BASE_MODEL, "s", incremental_snapshot_metadata="prev")
    with pytest.raises(TypeError, match="previous_snapshot_identity"):
        deploy_mgr.hotload("d", BASE_MODEL, "s", incremental_snapshot_metadata={})
    with pytest.raises(ValueError, match="timeout_seconds"):
        deploy_mgr.wait_for_hotload("d", BASE_MODEL, "s", timeout_seconds=0)
    with pytest.raises(ValueError, match="max_retries"):
        deploy_mgr.warmup("d", max_retries=0)
