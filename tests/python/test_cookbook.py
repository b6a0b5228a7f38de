"""The cookbook layer: checkpoints.jsonl, the kinds, and the Checkpointer's resume decisions."""
import json
import os

import pytest

from conftest import BASE_MODEL, datum, new_id


def test_kinds(fw):
    K = fw.CheckpointKind
    assert (K.STATE, K.SAMPLER, K.BOTH) == (1, 2, 3) and K.BOTH == K.STATE | K.SAMPLER
    e = fw.CheckpointEntry("step-1", 1, state_path="cross_job://j/step-1", source_job_id="j")
    assert e.kind is K.STATE and e.resumable and not e.promotable
    assert fw.CheckpointEntry("s", 2, sampler_path="s-1a2b3c4d").kind is K.SAMPLER
    assert fw.CheckpointEntry("s", 2, state_path="a", sampler_path="b").kind is K.BOTH


def test_registry_roundtrip(fw, tmp_path):
    log = str(tmp_path / "run")
    assert len(fw.read_checkpoints(log)) == 0          # missing: a fresh run
    fw.append_checkpoint(log, fw.CheckpointEntry("step-10", 10, 40, state_path="cross_job://job-abc/step-10",
                                                 source_job_id="job-abc", base_model=BASE_MODEL))
    fw.append_checkpoint(log, fw.CheckpointEntry("step-50", 50, 200, state_path="cross_job://job-abc/step-50",
                                                 sampler_path="step-50-a1b2c3d4", source_job_id="job-abc"))
    fw.append_checkpoint(log, fw.CheckpointEntry("step-60", 60, 240, sampler_path="step-60-a1b2c3d4",
                                                 source_job_id="job-abc"))
    reg = fw.read_checkpoints(log)
    assert [e.name for e in reg] == ["step-10", "step-50", "step-60"] and reg.torn_bytes == 0
    assert reg.last_resumable().name == "step-50"
    assert reg.latest_promotable().name == "step-60"
    assert reg.find_step(10).base_model == BASE_MODEL and reg.find_step(99) is None
    lines = [json.loads(x) for x in open(os.path.join(log, "checkpoints.jsonl"))]
    assert lines[0] == {"name": "step-10", "step": 10, "data_consumed": 40, "state_path": "cross_job://job-abc/step-10",
                        "source_job_id": "job-abc", "base_model": BASE_MODEL}
    assert "state_path" not in lines[2]
    # The library's rule, not file order: an older step appended later does not win the resume.
    fw.append_checkpoint(log, fw.CheckpointEntry("step-5", 5, 20, state_path="cross_job://job-abc/step-5",
                                                 source_job_id="job-abc"))
    assert fw.read_checkpoints(log).last_resumable().name == "step-50"


def test_registry_torn_and_corrupt(fw, tmp_path):
    log = str(tmp_path / "run")
    fw.append_checkpoint(log, fw.CheckpointEntry("step-1", 1, state_path="p", source_job_id="j"))
    path = os.path.join(log, "checkpoints.jsonl")
    with open(path, "a") as f:
        f.write('{"name": "step-2", "st')                 # a crash mid-append
    reg = fw.read_checkpoints(log)
    assert len(reg) == 1 and reg.torn_bytes > 0
    with open(path, "w") as f:
        f.write('not json\n{"name":"step-1","step":1,"state_path":"p","source_job_id":"j"}\n')
    with pytest.raises(fw.CorruptError) as ei:
        fw.read_checkpoints(log)
    assert "checkpoints.jsonl:1" in str(ei.value)
    assert isinstance(ei.value, OSError)


def test_registry_arguments(fw, tmp_path):
    with pytest.raises(TypeError, match="entry"):
        fw.append_checkpoint(str(tmp_path), {"name": "x"})
    with pytest.raises(ValueError, match="state_path or a sampler_path"):
        fw.append_checkpoint(str(tmp_path), fw.CheckpointEntry("x", 1, source_job_id="j"))
    with pytest.raises(ValueError, match="entry.step"):
        fw.append_checkpoint(str(tmp_path), fw.CheckpointEntry("x", -1, state_path="p", source_job_id="j"))
    with pytest.raises(TypeError, match="entry.source_job_id"):
        fw.append_checkpoint(str(tmp_path), fw.CheckpointEntry("x", 1, state_path="p"))
    assert fw.resolve_checkpoint_spec("i44pvd4syzg8hjfk:step-4") == "cross_job://i44pvd4syzg8hjfk/step-4"
    with pytest.raises(ValueError):
        fw.resolve_checkpoint_spec("no-colon")


def train_steps(fw, tc, ck, first, last, per_step=4):
    for step in range(first + 1, last + 1):
        tc.forward_backward([datum(fw, b"step %d" % step)]).result()
        tc.optim_step().result()
        ck.step_done(step, step * per_step)


def test_checkpointer_fresh_resume_finish(fw, mgr, job, tmp_path):
    log = str(tmp_path / "my_training")
    with mgr.create_training_client(job) as tc:
        ck = fw.Checkpointer(tc, log_path=log, job_id=job.job_id, base_model=BASE_MODEL, dcp_save_interval=2,
                             total_steps=6)
        assert ck.mode is fw.ResumeMode.FRESH and ck.start_step == 0 and ck.loaded_path is None
        train_steps(fw, tc, ck, 0, 3)
        ck.save(3, 12, fw.CheckpointKind.SAMPLER)
        ck.close()
    reg = fw.read_checkpoints(log)
    assert [(e.name, e.kind) for e in reg] == [("step-2", fw.CheckpointKind.STATE),
                                               ("step-3", fw.CheckpointKind.SAMPLER)]
    assert reg[0].state_path == "cross_job://%s/step-2" % job.job_id and reg[0].source_job_id == job.job_id
    # A new process with the same log_path resumes from the last resumable entry.
    with mgr.create_training_client(job) as tc:
        ck = fw.Checkpointer(tc, log_path=log, job_id=job.job_id, base_model=BASE_MODEL, dcp_save_interval=2,
                             total_steps=6)
        assert ck.mode is fw.ResumeMode.AUTO and ck.start_step == 2 and ck.start_data_consumed == 8
        assert ck.loaded_path == reg[0].state_path and not ck.is_complete
        train_steps(fw, tc, ck, 2, 6)
        ck.finish(6, 24)
        assert ck.is_complete
    last = fw.read_checkpoints(log)[-1]
    assert last.name == "step-6" and last.kind is fw.CheckpointKind.BOTH
    with mgr.create_training_client(job) as tc:
        assert fw.Checkpointer(tc, log_path=log, job_id=job.job_id, total_steps=6).mode is fw.ResumeMode.COMPLETE


def test_checkpointer_init_from_checkpoint(fw, mgr, job, tc, tmp_path):
    tc.save_state("step-4").result()
    other = mgr.create_and_wait(fw.TrainerJobConfig(base_model=BASE_MODEL, job_id=new_id("init")),
                                poll_interval_s=0.05, timeout_s=60)
    with mgr.create_training_client(other) as t2:
        ck = fw.Checkpointer(t2, log_path=str(tmp_path / "new_run"), job_id=other.job_id,
                             init_from_checkpoint="%s:step-4" % job.job_id)
        assert ck.mode is fw.ResumeMode.INIT and ck.start_step == 0
        assert ck.loaded_path == "cross_job://%s/step-4" % job.job_id
        with pytest.raises(TypeError, match="kind"):
            ck.save(1, 1, 3)
        with pytest.raises(ValueError, match="step"):
            ck.step_done(-1, 0)


def test_checkpointer_arguments(fw, tc, tmp_path):
    with pytest.raises(TypeError, match="training_client"):
        fw.Checkpointer(None, log_path=str(tmp_path), job_id="j")
    with pytest.raises(ValueError, match="dcp_save_interval"):
        fw.Checkpointer(tc, log_path=str(tmp_path), job_id="j", dcp_save_interval=-1)
    with pytest.raises(TypeError, match="log_path"):
        fw.Checkpointer(tc, log_path=None, job_id="j")
