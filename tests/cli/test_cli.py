#!/usr/bin/env python3
"""The fwtrain CLI against fwtrain-local: every job, deployment and checkpoints command, their --json
output parsed, the live progress line on a terminal (a pseudo-terminal) and plain lines otherwise, bad
input with the documented exit codes (0 ok, 1 failed, 2 usage, 4 key refused), and the bash completion.

usage: test_cli.py FWTRAIN FWTRAIN_LOCAL SFT_RESUME DATASET COMPLETION_FILE
"""
import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

FWTRAIN, LOCAL, SFT_RESUME, DATASET, COMPLETION = sys.argv[1:6]
del sys.argv[1:6]
KEY = "cli-test-key"
BASE_MODEL = "accounts/fireworks/models/fwtrain-local-byte"

OK, FAILED, USAGE, AUTH = 0, 1, 2, 4


def read(path):
    with open(path) as f:
        return f.read()


class Server:
    """fwtrain-local on a free port with its own data directory."""

    def __init__(self, *extra):
        self.dir = tempfile.mkdtemp(prefix="fwt-cli-")
        port_file = os.path.join(self.dir, "port")
        self.log = open(os.path.join(self.dir, "server.log"), "w")
        self.proc = subprocess.Popen(
            [LOCAL, "--port", "0", "--port-file", port_file, "--data-dir", os.path.join(self.dir, "data"),
             "--api-key", KEY, "--job-start-ms", "100", "--hotload-ms", "100", "--promote-ms", "100", *extra],
            stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(300):
            if os.path.exists(port_file) and read(port_file).strip():
                break
            if self.proc.poll() is not None:
                raise RuntimeError("fwtrain-local exited: " + read(self.log.name))
            time.sleep(0.05)
        self.url = "http://127.0.0.1:" + read(port_file).strip()

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def env_for(url, key=KEY):
    env = dict(os.environ)
    env.update(FIREWORKS_BASE_URL=url, FIREWORKS_API_KEY=key)
    env.pop("FIREWORKS_ACCOUNT_ID", None)
    return env


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.env = env_for(cls.server.url)

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def run_cli(self, *args, want=OK, env=None, timeout=120):
        p = subprocess.run([FWTRAIN, *args], env=env or self.env, capture_output=True, text=True, timeout=timeout)
        if p.returncode != want:
            self.fail("fwtrain %s: exit %d, want %d\nstdout: %s\nstderr: %s"
                      % (" ".join(args), p.returncode, want, p.stdout, p.stderr))
        self.assertNotIn(KEY, p.stdout + p.stderr)
        return p

    def json_of(self, *args):
        p = self.run_cli(*args, "--json")
        try:
            return json.loads(p.stdout)
        except ValueError as e:
            self.fail("fwtrain %s --json printed no JSON (%s):\n%s" % (" ".join(args), e, p.stdout))

    def usage_error(self, *args, says):
        p = self.run_cli(*args, want=USAGE)
        self.assertIn(says, p.stderr)
        self.assertEqual(p.stdout, "")

    # ---- jobs ----------------------------------------------------------------------------------------

    def test_job_lifecycle(self):
        made = self.json_of("job", "create", "--base-model", BASE_MODEL, "--job-id", "life-1", "--lora-rank", "4",
                            "--display-name", "cli test")
        self.assertEqual(made["job_id"], "life-1")
        self.assertEqual(made["name"], "accounts/local/rlorTrainerJobs/life-1")
        self.assertEqual(made["base_model"], BASE_MODEL)
        self.assertEqual(made["lora_rank"], 4)
        self.assertFalse(made["tombstone"])
        self.assertTrue(made["trainer_url"].startswith(self.server.url + "/training/v1/rlorTrainerJobs/local/life-1"))

        ready = self.json_of("job", "wait", "life-1", "--poll-interval-ms", "50")
        self.assertEqual(ready["state"], "JOB_STATE_RUNNING")
        got = self.json_of("job", "get", "life-1")
        self.assertEqual(got, ready)
        # text output names the same fields
        text = self.run_cli("job", "get", "--job-id", "life-1").stdout
        self.assertIn("job: life-1\n", text)
        self.assertIn("state: JOB_STATE_RUNNING\n", text)
        self.assertIn("lora_rank: 4\n", text)

        listed = self.json_of("job", "list")
        self.assertIsInstance(listed, list)
        self.assertIn("life-1", [j["job_id"] for j in listed])
        table = self.run_cli("job", "list").stdout.splitlines()
        self.assertTrue(table[0].startswith("JOB "))
        self.assertTrue(any(l.split()[:2] == ["life-1", "JOB_STATE_RUNNING"] for l in table[1:]))

        # resume of a running job is accepted (nothing to do); with --wait it prints the ready job
        resumed = self.json_of("job", "resume", "life-1", "--wait")
        self.assertEqual(resumed["state"], "JOB_STATE_RUNNING")

        p = self.run_cli("job", "delete", "life-1")
        self.assertIn("deleted job life-1", p.stderr)
        gone = self.json_of("job", "get", "life-1")
        self.assertEqual(gone["state"], "JOB_STATE_DELETED")
        self.assertTrue(gone["tombstone"])
        # a deleted job cannot be resumed or waited for, and its id cannot be reused
        p = self.run_cli("job", "resume", "life-1", want=FAILED)
        self.assertIn("JOB_STATE_DELETED", p.stderr)
        self.run_cli("job", "wait", "life-1", want=FAILED)
        p = self.run_cli("job", "create", "--base-model", BASE_MODEL, "--job-id", "life-1", want=FAILED)
        self.assertIn("life-1", p.stderr)

    def test_job_create_wait_plain_progress(self):
        p = self.run_cli("job", "create", "--base-model", BASE_MODEL, "--job-id", "plain-1", "--wait", "--json")
        self.assertEqual(json.loads(p.stdout)["state"], "JOB_STATE_RUNNING")
        # not a terminal: plain lines, one per stage, no carriage returns
        self.assertNotIn("\r", p.stderr)
        self.assertRegex(p.stderr, r"fwtrain: job plain-1: job_ready after \d+\.\d s")
        q = self.run_cli("--quiet", "job", "wait", "plain-1")
        self.assertEqual(q.stderr, "")

    def test_job_not_found_and_timeout(self):
        p = self.run_cli("job", "get", "no-such-job", want=FAILED)
        self.assertIn("no-such-job", p.stderr)
        self.assertIn("not found", p.stderr)
        self.assertEqual(p.stdout, "")
        self.run_cli("job", "delete", "no-such-job", want=FAILED)
        self.run_cli("job", "create", "--base-model", BASE_MODEL, "--job-id", "pending-1",
                     "--display-name", "fwl-stay-pending")
        p = self.run_cli("job", "wait", "pending-1", "--pending-timeout", "0.3", "--poll-interval-ms", "50",
                         want=FAILED)
        self.assertIn("job_pending", p.stderr)

    def test_live_progress_on_a_terminal(self):
        """On a terminal the wait redraws one line (\\r ... erase to end of line) and leaves one line behind."""
        self.run_cli("job", "create", "--base-model", BASE_MODEL, "--job-id", "tty-1",
                     "--display-name", "fwl-stay-pending")
        code, err = run_on_pty([FWTRAIN, "job", "wait", "tty-1", "--pending-timeout", "0.6", "--poll-interval-ms",
                                "50"], self.env)
        self.assertEqual(code, FAILED, err)
        self.assertIn("\r", err)
        self.assertIn("\x1b[K", err)
        redraws = re.findall(r"\rfwtrain: job tty-1: (job_pending|waiting) (\d+\.\d) s", err)
        self.assertGreaterEqual(len(redraws), 1, err)
        self.assertRegex(err, r"\r\x1b\[Kfwtrain: job tty-1: job_pending after \d+\.\d s\r?\n")
        self.assertIn("did not become ready", err)
        # --quiet: nothing but the error, even on a terminal
        code, err = run_on_pty([FWTRAIN, "--quiet", "job", "wait", "tty-1", "--pending-timeout", "0.2"], self.env)
        self.assertEqual(code, FAILED, err)
        self.assertNotIn("\r", err.replace("\r\n", "\n"))

    def test_job_bad_input(self):
        self.usage_error("job", says="needs a subcommand: create, get, list, wait, resume, delete")
        self.usage_error("job", "frob", says="unknown subcommand 'job frob'")
        self.usage_error("job", "get", says="needs a JOB")
        self.usage_error("job", "get", "a", "b", says="takes one JOB")
        self.usage_error("job", "get", "a", "--job-id", "b", says="takes one JOB")
        self.usage_error("job", "create", says="--base-model")
        self.usage_error("job", "create", "--base-model", BASE_MODEL, "--lora-rank", "x", says="--lora-rank needs")
        self.usage_error("job", "create", "--base-model", BASE_MODEL, "--lora-rank", "-1", says="--lora-rank needs")
        self.usage_error("job", "create", "--base-model", BASE_MODEL, "--learning-rate", "0", says="--learning-rate")
        self.usage_error("job", "create", "--base-model", BASE_MODEL, "--training-shape", "s", "--node-count", "2",
                         says="excludes")
        self.usage_error("job", "create", "--base-model", BASE_MODEL, "--auto-shape", "--accelerator-type", "T",
                         says="--auto-shape excludes")
        self.usage_error("job", "create", "--base-model", BASE_MODEL, "--wait-timeout", "3", says="go with --wait")
        self.usage_error("job", "wait", "j", "--wait-timeout", "0", says="--wait-timeout needs")
        self.usage_error("job", "wait", "j", "--poll-interval-ms", "0", says="--poll-interval-ms needs")
        self.usage_error("job", "get", "j", "--lora-rank", "2", says="--lora-rank does not go with 'job get'")
        self.usage_error("job", "delete", "j", "--json", says="--json does not go with 'job delete'")
        self.usage_error("job", "list", "x", says="unexpected argument 'x'")
        self.usage_error("job", "get", "--bogus", says="unknown option '--bogus'")
        self.usage_error("job", "get", "--job-id", says="needs a value")
        # the library's id check: a bad id is a usage error, before any request
        self.usage_error("job", "get", "a/b", says="job_id")

    # ---- deployments and hotload ----------------------------------------------------------------------

    def test_deployment_lifecycle(self):
        run = tempfile.mkdtemp(prefix="fwt-cli-run-")
        try:
            subprocess.run([SFT_RESUME, "--log-path", run, "--dataset", DATASET, "--steps", "2", "--job-id",
                            "dep-trainer"], env=self.env, check=True, capture_output=True, timeout=120)
            entry = json.loads(read(os.path.join(run, "checkpoints.jsonl")).splitlines()[-1])
        finally:
            shutil.rmtree(run, ignore_errors=True)
        snapshot = entry["sampler_path"]
        self.run_cli("job", "create", "--base-model", BASE_MODEL, "--job-id", "dep-other", "--wait")

        dep = self.json_of("deployment", "create", "dep-1", "--base-model", BASE_MODEL, "--trainer-job",
                           "dep-trainer", "--wait", "--poll-interval-ms", "50")
        self.assertEqual(dep["deployment_id"], "dep-1")
        self.assertEqual(dep["name"], "accounts/local/deployments/dep-1")
        self.assertEqual(dep["state"], "READY")
        self.assertEqual(dep["base_model"], BASE_MODEL)
        self.assertEqual(dep["hot_load_trainer_job"], "accounts/local/rlorTrainerJobs/dep-trainer")
        self.assertEqual(self.json_of("deployment", "get", "dep-1"), dep)
        self.assertIn("state: READY\n", self.run_cli("deployment", "get", "dep-1").stdout)
        # create of an existing deployment returns it
        self.assertEqual(self.json_of("deployment", "create", "dep-1", "--base-model", BASE_MODEL), dep)

        status = self.json_of("deployment", "status", "dep-1")
        self.assertEqual(len(status["replicas"]), 1)
        self.assertNotEqual(status["replicas"][0]["current_snapshot_identity"], snapshot)

        p = self.run_cli("deployment", "hotload", "dep-1", "--identity", snapshot, "--poll-interval-ms", "50",
                         "--json")
        loaded = json.loads(p.stdout)
        self.assertEqual(loaded["replicas"][0]["current_snapshot_identity"], snapshot)
        self.assertTrue(loaded["replicas"][0]["readiness"])
        self.assertRegex(p.stderr, r"loading %s: hotload_done after \d+\.\d s" % re.escape(snapshot))
        self.assertEqual(self.json_of("deployment", "status", "dep-1", "--base-model", BASE_MODEL)["replicas"][0]
                         ["current_snapshot_identity"], snapshot)
        text = self.run_cli("deployment", "status", "dep-1").stdout
        self.assertIn("replica 0: identity %s, ready" % snapshot, text)

        # a snapshot the trainer does not have: the load fails, naming it
        p = self.run_cli("deployment", "hotload", "dep-1", "--identity", "no-such-snapshot", "--wait-timeout", "5",
                         "--poll-interval-ms", "50", want=FAILED)
        self.assertIn("no-such-snapshot", p.stderr)
        # --no-wait returns after acceptance with the status seen then
        p = self.run_cli("deployment", "hotload", "dep-1", "--identity", snapshot, "--no-wait", "--json")
        self.assertIn("replicas", json.loads(p.stdout))

        moved = self.json_of("deployment", "reattach", "dep-1", "--job-id", "dep-other")
        self.assertEqual(moved["hot_load_trainer_job"], "accounts/local/rlorTrainerJobs/dep-other")
        self.assertEqual(self.json_of("deployment", "get", "dep-1")["hot_load_trainer_job"],
                         "accounts/local/rlorTrainerJobs/dep-other")

        p = self.run_cli("deployment", "delete", "dep-1", "--poll-interval-ms", "50")
        self.assertIn("deleted deployment dep-1", p.stderr)
        p = self.run_cli("deployment", "get", "dep-1", want=FAILED)
        self.assertIn("not found", p.stderr)
        self.run_cli("deployment", "delete", "dep-1")  # already gone counts as deleted
        self.run_cli("deployment", "status", "dep-1", want=FAILED)

        # promotion of the trainer's sampler checkpoint shows its progress too
        p = self.run_cli("promote", "--job-id", "dep-trainer", "--base-model", BASE_MODEL, "--output-model-id",
                         "cli-promoted", "--poll-interval-ms", "50")
        self.assertIn("model: accounts/local/models/cli-promoted\n", p.stdout)
        self.assertRegex(p.stderr, r"fwtrain: promotion: promote_\w+ after \d+\.\d s")

    def test_deployment_bad_input(self):
        self.usage_error("deployment", says="needs a subcommand: create, get, delete, reattach, hotload, status")
        self.usage_error("deployment", "scale", "d", says="unknown subcommand 'deployment scale'")
        self.usage_error("deployment", "get", says="needs a deployment id DEP")
        self.usage_error("deployment", "create", "d", says="--base-model")
        self.usage_error("deployment", "create", "d", "--base-model", "m", "--min-replicas", "3", "--max-replicas",
                         "2", says="--min-replicas (3) is above --max-replicas (2)")
        self.usage_error("deployment", "create", "d", "--base-model", "m", "--max-replicas", "0",
                         says="--max-replicas needs")
        self.usage_error("deployment", "create", "d", "--base-model", "m", "--deployment-shape", "s",
                         "--accelerator-type", "t", says="excludes")
        self.usage_error("deployment", "reattach", "d", says="--job-id JOB")
        self.usage_error("deployment", "hotload", "d", says="--identity SNAPSHOT")
        self.usage_error("deployment", "hotload", "d", "--identity", "s", "--no-wait", "--wait-timeout", "2",
                         says="--no-wait excludes")
        self.usage_error("deployment", "get", "d", "--identity", "s", says="--identity does not go with")
        self.usage_error("deployment", "delete", "d", "--json", says="--json does not go with 'deployment delete'")
        self.usage_error("deployment", "get", "a/b", says="deployment_id")
        p = self.run_cli("deployment", "get", "nope", want=FAILED)
        self.assertIn("nope", p.stderr)

    # ---- checkpoints, global errors ---------------------------------------------------------------------

    def test_checkpoints_delete_is_not_offered(self):
        self.usage_error("checkpoints", "delete", "x", says="no 'checkpoints delete'")
        self.assertIn("no 'checkpoints delete'", self.run_cli("checkpoints", "--help").stdout)
        self.assertIn("no 'checkpoints delete'", self.run_cli("--help").stdout)

    def test_checkpoints_list_json(self):
        self.run_cli("job", "create", "--base-model", BASE_MODEL, "--job-id", "ck-1")
        rows = self.json_of("checkpoints", "list", "--job-id", "ck-1")
        self.assertEqual(rows, [])

    def test_key_and_server_errors(self):
        for args in (["job", "list"], ["job", "get", "j"], ["deployment", "get", "d"]):
            p = self.run_cli(*args, want=AUTH, env=env_for(self.server.url, "wrong-key"))
            self.assertIn("FIREWORKS_API_KEY", p.stderr)
            self.assertNotIn("wrong-key", p.stderr)
            env = env_for(self.server.url)
            del env["FIREWORKS_API_KEY"]
            p = self.run_cli(*args, want=USAGE, env=env)
            self.assertIn("FIREWORKS_API_KEY is not set", p.stderr)
        # nothing listening: the request fails within --timeout
        p = self.run_cli("--timeout", "1", "job", "list", want=FAILED, env=env_for("http://127.0.0.1:9"))
        self.assertIn("127.0.0.1:9", p.stderr)

    # ---- help, man page, completion --------------------------------------------------------------------

    def test_help_lists_every_command(self):
        top = self.run_cli("--help").stdout
        commands = set(re.findall(r"^  ((?:job|deployment|checkpoints) \w+|promote)\s", top, re.M))
        self.assertEqual(commands, {"job " + s for s in "create get list wait resume delete".split()}
                         | {"deployment " + s for s in "create get delete reattach hotload status".split()}
                         | {"checkpoints list", "checkpoints resolve", "promote"})
        for cmd in ("job", "deployment", "checkpoints", "promote"):
            self.assertIn("Usage: fwtrain " + cmd, self.run_cli(cmd, "--help").stdout)

    def complete(self, *words):
        """What the completion offers after `fwtrain WORDS...` (the last word is the one being completed)."""
        script = ('source "$1"; shift; COMP_WORDS=(fwtrain "$@"); COMP_CWORD=$#; COMP_LINE="fwtrain $*"; '
                  'COMP_POINT=${#COMP_LINE}; _fwtrain; printf "%s\\n" "${COMPREPLY[@]}"')
        p = subprocess.run(["bash", "-c", script, "bash", COMPLETION, *words], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return set(p.stdout.split())

    def test_bash_completion(self):
        self.assertTrue({"job", "deployment", "checkpoints", "promote"} <= self.complete(""))
        self.assertEqual(self.complete("job", ""), set("create get list wait resume delete".split()))
        self.assertEqual(self.complete("deployment", "re"), {"reattach"})
        self.assertEqual(self.complete("--verbose", "deployment", "h"), {"hotload"})
        # every option a subcommand's help documents for it is offered
        usage = {"job": self.run_cli("job", "--help").stdout,
                 "deployment": self.run_cli("deployment", "--help").stdout}
        for cmd, subs in (("job", "create get list wait resume delete"),
                          ("deployment", "create get delete reattach hotload status")):
            offered_all = set()
            for sub in subs.split():
                offered = self.complete(cmd, sub, "--")
                self.assertIn("--help", offered)
                offered_all |= offered
                for opt in offered - {"--help", "--verbose", "--quiet", "--timeout", "--allow-insecure-http"}:
                    # an offered option is accepted by that subcommand (it does not say "does not go with")
                    p = subprocess.run([FWTRAIN, cmd, sub, opt], env=self.env, capture_output=True, text=True,
                                       timeout=30)
                    self.assertNotIn("does not go with", p.stderr, "%s %s %s" % (cmd, sub, opt))
            for opt in set(re.findall(r"--[a-z][a-z-]*", usage[cmd])) - {"--help"}:
                self.assertIn(opt, offered_all, "%s --help documents %s; completion never offers it" % (cmd, opt))
        self.assertTrue({"--checkpoints-jsonl", "--output-model-id"} <= self.complete("promote", "--"))


def run_on_pty(argv, env, timeout=60):
    """Run argv with stderr (and stdout) on a pseudo-terminal; returns (exit code, what it wrote)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.5)
        if r:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif p.poll() is not None:
            break
    os.close(master)
    code = p.wait(timeout=timeout)
    return code, out.decode("utf-8", "replace")


if __name__ == "__main__":
    unittest.main(verbosity=2)
