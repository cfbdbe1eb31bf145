"""Job manifests and the local backend's job files: parsing errors name the field; writes are atomic,
status writes check the uid, cancel bumps the generation and refuses finished jobs."""

from __future__ import annotations

from pathlib import Path

import pytest

from envfarm.errors import InputError, NotFoundError, RecordError
from envfarm.farm import jobfile
from envfarm.farm.localjobs import LocalJobs
from envfarm.models.job import JobPhase, RolloutJob, RolloutJobStatus

CR = {
    "apiVersion": "envfarm.dev/v1alpha1",
    "kind": "RolloutJob",
    "metadata": {"name": "j1", "namespace": "team"},
    "spec": {"tasks": {"ids": ["a"]}, "agent": {"kind": "hold", "seconds": 1}},
}


def test_parse_custom_resource_and_model_shapes() -> None:
    job = jobfile.parse_job(CR, "j.yaml")
    assert (job.name, job.namespace, job.spec.agent.kind) == ("j1", "team", "hold")
    assert jobfile.parse_job(CR, "j.yaml", namespace="other").namespace == "other"
    same = jobfile.parse_job({"name": "j1", "spec": CR["spec"]}, "j.yaml")
    assert same.spec == job.spec
    body = jobfile.resource(job)
    assert body["kind"] == "RolloutJob" and "status" not in body
    assert jobfile.parse_job(body, "again").spec == job.spec


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({**CR, "spec": {"concurrency": 0}}, "spec.concurrency"),
        ({**CR, "spec": {"agent": {"kind": "dance"}}}, "spec.agent"),
        ({**CR, "metadata": {"name": "Bad_Name"}}, "name"),
        ({**CR, "kind": "Pod"}, "kind"),
    ],
)
def test_bad_manifests_name_the_field(doc: dict[str, object], field: str) -> None:
    with pytest.raises(RecordError) as err:
        jobfile.parse_job(doc, "j.yaml")
    assert err.value.field.startswith(field) and "j.yaml" in str(err.value)


def test_local_job_lifecycle(tmp_path: Path) -> None:
    jobs = LocalJobs(tmp_path)
    job = RolloutJob.model_validate({"name": "j1", "spec": CR["spec"]})
    obj = jobs.create(job)
    uid = obj["metadata"]["uid"]
    with pytest.raises(InputError):
        jobs.create(job)
    assert jobs.write_status("j1", uid, RolloutJobStatus(phase=JobPhase.running, total=1))
    assert not jobs.write_status("j1", "another-uid", RolloutJobStatus()), "a replaced job is not written"
    got = jobs.get("j1")
    assert got["status"]["phase"] == "Running" and got["metadata"]["resourceVersion"] == "2"
    assert jobs.cancel("j1") and not jobs.cancel("j1")
    got = jobs.get("j1")
    assert got["spec"]["suspend"] is True and got["metadata"]["generation"] == 2
    assert [jobfile.summary(o)["name"] for o in jobs.list()] == ["j1"]
    jobs.add_event("j1", "Started", "go", False, 0.0)
    assert jobs.events("j1")[0]["reason"] == "Started"
    assert jobs.delete("j1") and not jobs.delete("j1")
    with pytest.raises(NotFoundError):
        jobs.get("j1")
    assert not jobs.events("j1")


def test_finished_job_cannot_be_cancelled(tmp_path: Path) -> None:
    jobs = LocalJobs(tmp_path)
    uid = jobs.create(RolloutJob(name="done"))["metadata"]["uid"]
    jobs.write_status("done", uid, RolloutJobStatus(phase=JobPhase.succeeded))
    assert not jobs.cancel("done")
