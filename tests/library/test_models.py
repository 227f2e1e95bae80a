"""Records decode the wire shape faithfully and survive what a new service release may add."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from aiopersonalize import (
    BatchInferenceJob,
    BatchInferenceJobMode,
    BatchInferenceJobSummary,
    BatchSegmentJob,
    BatchSegmentJobSummary,
    JobStatus,
)

ARN = "arn:aws:personalize:us-east-1:123456789012:batch-inference-job/j1"
SV = "arn:aws:personalize:us-east-1:123456789012:solution/s/1a2b3c"

FULL_INFERENCE = {
    "jobName": "j1",
    "batchInferenceJobArn": ARN,
    "filterArn": "arn:aws:personalize:us-east-1:123456789012:filter/f",
    "failureReason": "boom",
    "solutionVersionArn": SV,
    "numResults": 25,
    "jobInput": {
        "s3DataSource": {
            "path": "s3://in/x.json",
            "kmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/k",
        }
    },
    "jobOutput": {"s3DataDestination": {"path": "s3://out/"}},
    "batchInferenceJobConfig": {
        "itemExplorationConfig": {"explorationWeight": "0.3"},
        "rankingInfluence": {"FRESHNESS": 0.5},
    },
    "roleArn": "arn:aws:iam::123456789012:role/r",
    "batchInferenceJobMode": "THEME_GENERATION",
    "themeGenerationConfig": {"fieldsForThemeGeneration": {"itemName": "TITLE"}},
    "status": "CREATE FAILED",
    "creationDateTime": datetime(2024, 5, 31, 16, 8, 37, 123000, tzinfo=timezone.utc),
    "lastUpdatedDateTime": datetime(2024, 6, 1, tzinfo=timezone.utc),
}


def test_full_inference_job_round_trips_through_to_dict() -> None:
    """A full batch inference job decodes every member and to_dict() gives the same AWS-shaped dict back."""
    job = BatchInferenceJob.from_wire(FULL_INFERENCE)
    assert job.status is JobStatus.CREATE_FAILED
    assert job.batch_inference_job_mode is BatchInferenceJobMode.THEME_GENERATION
    assert job.job_input is not None
    assert job.job_input.s3_data_source.kms_key_arn is not None
    assert job.theme_generation_config is not None
    assert job.theme_generation_config.fields_for_theme_generation.item_name == "TITLE"
    assert job.to_dict() == FULL_INFERENCE


def test_full_segment_job_round_trips_through_to_dict() -> None:
    """A full batch segment job decodes and to_dict() gives the same AWS-shaped dict back."""
    wire = {
        k: v
        for k, v in FULL_INFERENCE.items()
        if k
        not in {
            "batchInferenceJobArn",
            "batchInferenceJobConfig",
            "batchInferenceJobMode",
            "themeGenerationConfig",
        }
    }
    wire["batchSegmentJobArn"] = ARN.replace("inference", "segment")
    job = BatchSegmentJob.from_wire(wire)
    assert job.to_dict() == wire


@pytest.mark.parametrize(
    "value",
    [
        1717171717.123,
        datetime(2024, 5, 31, 16, 8, 37, 123000, tzinfo=timezone.utc),
        datetime(2024, 5, 31, 18, 8, 37, 123000, tzinfo=timezone.utc).astimezone(
            timezone(__import__("datetime").timedelta(hours=2))
        ),
    ],
)
def test_timestamps_become_aware_utc_datetimes(value: object) -> None:
    """Epoch seconds and aware datetimes in any zone all decode to the same UTC datetime."""
    job = BatchSegmentJobSummary.from_wire({"batchSegmentJobArn": ARN, "creationDateTime": value})
    assert job.creation_date_time is not None
    assert job.creation_date_time.tzinfo is timezone.utc
    if isinstance(value, float):
        assert job.creation_date_time.timestamp() == pytest.approx(value)


def test_unknown_values_and_members_do_not_break_decoding() -> None:
    """An unknown status, an unknown mode and unknown members decode, kept as plain strings and ignored respectively."""
    job = BatchInferenceJobSummary.from_wire(
        {
            "batchInferenceJobArn": ARN,
            "status": "ARCHIVED",
            "batchInferenceJobMode": "SOMETHING_NEW",
            "brandNewMember": {"nested": [1, 2]},
        }
    )
    assert job.status == "ARCHIVED"
    assert not isinstance(job.status, JobStatus)
    assert job.batch_inference_job_mode == "SOMETHING_NEW"
    assert job.to_dict() == {
        "batchInferenceJobArn": ARN,
        "status": "ARCHIVED",
        "batchInferenceJobMode": "SOMETHING_NEW",
    }


def test_enum_members_behave_as_their_strings() -> None:
    """Status and mode members compare equal to, print as and serialise to their wire strings."""
    assert JobStatus.IN_PROGRESS == "IN PROGRESS"
    assert str(JobStatus.IN_PROGRESS) == "IN PROGRESS"
    assert f"{JobStatus.ACTIVE}" == "ACTIVE"
    job = BatchInferenceJobSummary.from_wire({"batchInferenceJobArn": ARN, "status": "ACTIVE"})
    assert type(job.to_dict()["status"]) is str


def test_records_are_frozen_slotted_and_hashable() -> None:
    """Records cannot be mutated, carry no __dict__, and full records hash despite their maps."""
    job = BatchInferenceJob.from_wire(FULL_INFERENCE)
    with pytest.raises(AttributeError):
        job.job_name = "other"  # type: ignore[misc]
    assert not hasattr(job, "__dict__")
    assert hash(job) == hash(BatchInferenceJob.from_wire(FULL_INFERENCE))
    config = job.batch_inference_job_config
    assert config is not None
    assert config.ranking_influence is not None
    with pytest.raises(TypeError):
        config.ranking_influence["FRESHNESS"] = 1.0  # type: ignore[index]


@pytest.mark.parametrize(
    "wire",
    [1717152525.5, "1717152525.5", "2024-05-31T10:48:45.500000Z", "2024-05-31T12:48:45.5+02:00"],
)
def test_timestamps_decode_from_every_form_botocore_accepts(wire: object) -> None:
    """A timestamp given as epoch seconds (number or string) or as ISO 8601 decodes to the
    same aware UTC datetime, as botocore's parser would give it."""
    for record in (
        BatchInferenceJobSummary.from_wire({"batchInferenceJobArn": ARN, "creationDateTime": wire}),
        BatchSegmentJobSummary.from_wire({"batchSegmentJobArn": ARN, "creationDateTime": wire}),
    ):
        assert record.creation_date_time == datetime(
            2024, 5, 31, 10, 48, 45, 500000, tzinfo=timezone.utc
        )
        assert record.creation_date_time.tzinfo is timezone.utc
