"""FireworksClient and TrainerJobManager against fwtrain-local: every call, results read back."""
import pytest

from conftest import API_KEY, BASE_MODEL, new_id


def test_client_account_and_base_url(server, fw):
    with fw.FireworksClient(api_key=API_KEY, base_url=server.url) as c:
        assert c.account_id == "local"
        assert c.base_url == server.url
        assert not c.closed
    assert c.closed


def test_client_from_environment(env, fw):
    c = fw.FireworksClient()
    assert c.account_id == "local"
    assert c.base_url == env.url
    c.close()


def test_create_get_wait_ready(mgr, fw):
    jid = new_id("cp")
    created = mgr.create(fw.TrainerJobConfig(base_model=BASE_MODEL, job_id=jid, display_name="pytest job"))
    assert created.job_id == jid
    assert created.job_name == "accounts/local/rlorTrainerJobs/" + jid
    got = mgr.get(jid)
    assert got["name"] == created.job_name
    assert got["trainingConfig"]["baseModel"] == BASE_MODEL
    ep = mgr.wait_for_ready(jid, poll_interval_s=0.05, timeout_s=60)
    assert ep.job_id == jid and ep.job_name == created.job_name
    assert ep.base_url.endswith("/training/v1/rlorTrainerJobs/local/" + jid)
    assert mgr.get(jid)["state"] == "JOB_STATE_RUNNING"
    # A second create with the same id returns the same job (409 resolved by a GET).
    again = mgr.create(fw.TrainerJobConfig(base_model=BASE_MODEL, job_id=jid))
    assert again.job_id == jid


def test_create_and_wait_and_wait_for_existing(mgr, fw):
    ep = mgr.create_and_wait(fw.TrainerJobConfig(base_model=BASE_MODEL, job_id=new_id("cw"), lora_rank=8),
                             poll_interval_s=0.05, timeout_s=60)
    assert mgr.get(ep.job_id)["trainingConfig"]["loraRank"] == 8
    assert mgr.wait_for_existing(ep.job_id, poll_interval_s=0.05, timeout_s=60) == ep


def test_training_shape_path(mgr, fw):
    ep = mgr.create_and_wait(fw.TrainerJobConfig(base_model=BASE_MODEL, job_id=new_id("shape"),
                                                 training_shape_ref="accounts/fireworks/trainingShapes/fwl-full"),
                             poll_interval_s=0.05, timeout_s=60)
    assert mgr.get(ep.job_id)["state"] == "JOB_STATE_RUNNING"


def test_wait_for_ready_async_future(mgr, fw):
    created = mgr.create(fw.TrainerJobConfig(base_model=BASE_MODEL, job_id=new_id("wa")))
    fut = mgr.wait_for_ready_async(created.job_id, poll_interval_s=0.05, timeout_s=60)
    ep = fut.result(timeout=60)
    assert fut.done() and not fut.cancelled()
    assert ep.job_id == created.job_id


def test_delete_then_resume_refused_and_listing_survives(mgr, fw, tc, job):
    tc.save_state("keep-me").result()
    tc.close()
    mgr.delete(job.job_id)
    assert mgr.get(job.job_id)["state"] == "JOB_STATE_DELETED"
    names = [r["checkpointId"] for r in mgr.list_checkpoints(job.job_id)]
    assert "keep-me" in names
    # A tombstoned job cannot be waited for.
    with pytest.raises(fw.StateError):
        mgr.wait_for_ready(job.job_id, poll_interval_s=0.05, timeout_s=10)


def test_delete_missing_job_raises_not_found(mgr, fw):
    with pytest.raises(fw.NotFoundError) as ei:
        mgr.delete(new_id("nope"))
    assert ei.value.http_status == 404


def test_resume_and_reconnect(server, mgr, fw, job):
    # A RUNNING job: reconnect_and_wait only waits for it.
    ep = mgr.reconnect_and_wait(job.job_id, poll_interval_s=0.05, timeout_s=60)
    assert ep.job_id == job.job_id
    # A paused (preempted) job: resume_and_wait brings it back.
    server.set_job_state(job.job_id, "JOB_STATE_PAUSED")
    assert mgr.get(job.job_id)["state"] == "JOB_STATE_PAUSED"
    assert mgr.resume_and_wait(job.job_id, poll_interval_s=0.05, timeout_s=60).job_id == job.job_id
    assert mgr.get(job.job_id)["state"] == "JOB_STATE_RUNNING"
    # A failed one: reconnect_and_wait resumes it.
    server.set_job_state(job.job_id, "JOB_STATE_FAILED")
    assert mgr.reconnect_and_wait(job.job_id, poll_interval_s=0.05, timeout_s=60).job_id == job.job_id
    assert mgr.get(job.job_id)["state"] == "JOB_STATE_RUNNING"
    # resume() alone, then wait.
    server.set_job_state(job.job_id, "JOB_STATE_CANCELLED")
    mgr.resume(job.job_id)
    assert mgr.wait_for_ready(job.job_id, poll_interval_s=0.05, timeout_s=60).job_id == job.job_id


def test_resume_deleted_job_refused(mgr, fw, job):
    mgr.delete(job.job_id)
    with pytest.raises(fw.FwtrainError) as ei:
        mgr.resume(job.job_id)
    assert ei.value.http_status == 400
    assert "JOB_STATE_DELETED" in str(ei.value)


def test_get_missing_job(mgr, fw):
    with pytest.raises(fw.NotFoundError) as ei:
        mgr.get("no-such-job")
    e = ei.value
    assert e.code == -6 and e.http_status == 404 and e.category in ("user", "server", "unknown")
    assert "404" in str(e)


def test_list_checkpoints_and_promote(server, fw, mgr, tc, job):
    tc.save_state("st-1").result()
    saved = tc.save_weights_for_sampler_ext("promo", checkpoint_type="base")
    client = fw.FireworksClient(api_key=API_KEY, base_url=server.url)
    rows = client.list_checkpoints(job.job_id)
    by_id = {r["checkpointId"]: r for r in rows}
    assert by_id["st-1"]["resumable"] and not by_id["st-1"]["promotable"]
    assert by_id[saved.snapshot_name]["promotable"]
    assert by_id[saved.snapshot_name]["name"] == "accounts/local/rlorTrainerJobs/%s/checkpoints/%s" % (
        job.job_id, saved.snapshot_name)
    small = client.list_checkpoints(job.job_id, page_size=1)
    assert [r["name"] for r in small] == [r["name"] for r in rows]
    # Positional form (job_id, checkpoint_id, output_model_id) with base_model read from the job.
    model = client.promote_checkpoint(job.job_id, saved.snapshot_name, new_id("m"))
    assert model["state"] == "READY" and model["kind"] == "HF_BASE_MODEL"
    assert model["baseModel"] == BASE_MODEL
    # By 4-segment name, through TrainerJobManager, asynchronously.
    fut = mgr.promote_checkpoint_async(name=by_id[saved.snapshot_name]["name"], output_model_id=new_id("n"),
                                       base_model=BASE_MODEL)
    assert fut.result(60)["name"].startswith("accounts/local/models/n-")
    client.close()


def test_promote_refuses_bad_output_id_before_any_request(server, fw):
    with pytest.raises(ValueError):
        fw.validate_output_model_id("Not_Valid")
    fw.validate_output_model_id("fine-id-1")
    with fw.FireworksClient(api_key=API_KEY, base_url=server.url) as c:
        with pytest.raises(fw.InvalidArgumentError) as ei:
            c.promote_checkpoint("job", "ckpt", "UPPER", base_model=BASE_MODEL)
        assert "output_model_id" in str(ei.value)


def test_bad_key_is_authentication_error(server, fw):
    with fw.TrainerJobManager(api_key="wrong-key", base_url=server.url) as m:
        with pytest.raises(fw.AuthenticationError) as ei:
            m.get("x")
        assert ei.value.http_status == 401
        assert "wrong-key" not in str(ei.value)
