"""The rows a page becomes (account and region from each job's own ARN, one row per ARN),
a crawl's counts and positions read back, and a driver's error in one line, against
real SQLite files and PostgreSQL.

Pages are made as in ``test_inventory.py``.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from aiopersonalize import ChainKey, InventoryError, Page
from aiopersonalize._inventory._backend import merge_pages

from .test_inventory import ACCOUNT, REGION, inference, open_inventory, page, query, segment

OTHER_ACCOUNT = "210987654321"


def with_arn(n: int, arn: str) -> Any:
    """Inference job ``n`` under another ARN."""
    job = inference(n)
    fields = {f: getattr(job, f) for f in job.__struct_fields__}
    return type(job)(**{**fields, "batch_inference_job_arn": arn})


async def crawl_of(url: str, *pages: Page[Any], **begin: Any) -> Any:
    async with open_inventory(url) as inventory:
        run = await inventory.begin_crawl(**begin)
        await run.write_pages(pages)
        return await run.finish()


async def test_each_job_is_placed_by_its_own_arn(inventory_url: str) -> None:
    """In one page, a job of another account or region than the first job's is stored
    under its own ARN's account and region; a job whose ARN is none the model allows is
    kept, under the page's region and no account; a colon in an ARN's resource is the
    resource's."""
    colon = f"arn:aws:personalize:{REGION}:{ACCOUNT}:batch-inference-job/a:b"
    elsewhere = f"arn:aws:personalize:eu-west-1:{OTHER_ACCOUNT}:batch-inference-job/j2"
    await crawl_of(
        inventory_url,
        page([with_arn(1, colon), with_arn(2, elsewhere), with_arn(3, "not-an-arn")], None),
    )
    rows = await query(
        inventory_url,
        "SELECT arn, kind, account, region, job_name FROM batch_jobs ORDER BY job_name",
    )
    assert rows == [
        (colon, "inference", ACCOUNT, REGION, "j1"),
        (elsewhere, "inference", OTHER_ACCOUNT, "eu-west-1", "j2"),
        ("not-an-arn", "inference", "", REGION, "j3"),
    ]


async def test_a_first_job_whose_arn_is_not_one_still_places_the_others(
    inventory_url: str,
) -> None:
    """A page whose first job's ARN is none the model allows keeps that job under the
    page's region, and places the others by their own ARNs."""
    await crawl_of(inventory_url, page([with_arn(1, "not-an-arn"), inference(2)], None))
    rows = await query(inventory_url, "SELECT account, region FROM batch_jobs ORDER BY job_name")
    assert rows == [("", REGION), (ACCOUNT, REGION)]


async def test_one_row_per_arn_the_last_wins_and_names_may_repeat(inventory_url: str) -> None:
    """A job listed twice in a page (or in pages written together) is one row, the last
    listing's; two jobs of the same name under different ARNs are two rows."""
    twin = with_arn(1, f"arn:aws:personalize:{REGION}:{ACCOUNT}:batch-inference-job/twin")
    result = await crawl_of(
        inventory_url,
        page([inference(1), twin, inference(1, "CREATE FAILED")], "t1"),
        page([inference(2), inference(2, "IN PROGRESS")], None),
    )
    assert (result.seen, result.created) == (3, 3)
    rows = await query(inventory_url, "SELECT arn, job_name, status FROM batch_jobs ORDER BY arn")
    assert rows == [
        (inference(1).batch_inference_job_arn, "j1", "CREATE FAILED"),
        (inference(2).batch_inference_job_arn, "j2", "IN PROGRESS"),
        (twin.batch_inference_job_arn, "j1", "ACTIVE"),
    ]


async def test_a_crawls_counts_are_each_counted(inventory_url: str) -> None:
    """A crawl's result and row count exactly what happened: nothing changed or
    reappeared in a first crawl; then one change, one deletion, one reappearance."""
    first = await crawl_of(inventory_url, page([inference(1), inference(2)], None))
    assert (first.seen, first.created, first.changed, first.reappeared, first.deleted) == (
        2, 2, 0, 0, 0,
    )  # fmt: skip
    await crawl_of(inventory_url, page([inference(1)], None))
    third = await crawl_of(inventory_url, page([inference(1, "FAILED"), inference(2)], None))
    assert (third.seen, third.created, third.changed, third.reappeared, third.deleted) == (
        2, 0, 1, 1, 0,
    )  # fmt: skip
    counts = await query(
        inventory_url,
        "SELECT jobs_seen, jobs_created, jobs_changed, jobs_reappeared, jobs_deleted, "
        "listings_failed FROM crawls ORDER BY id",
    )
    assert counts == [(2, 2, 0, 0, 0, 0), (1, 0, 0, 0, 1, 0), (2, 0, 1, 1, 0, 0)]


async def test_a_listing_of_another_account_resumes_under_its_account(
    inventory_url: str,
) -> None:
    """A crawl of several accounts resumes each account's listing under a key naming the
    account, and the client's own listing under the plain key."""
    async with open_inventory(inventory_url) as inventory:
        run = await inventory.begin_crawl()
        await run.write_pages(
            [
                Page((), "t-other", None, REGION, "inference", account=OTHER_ACCOUNT),
                page([inference(1)], "t-own"),
                page([segment(1)], None, "segment"),
            ]
        )
    async with open_inventory(inventory_url) as inventory:
        run = await inventory.begin_crawl()
        resume = dict(run.resume)
    assert resume == {
        ChainKey(REGION, "inference", None, OTHER_ACCOUNT): "t-other",
        ChainKey(REGION, "inference", None): "t-own",
        ChainKey(REGION, "segment", None): None,
    }
    assert sorted(key.account or "" for key in resume) == ["", "", OTHER_ACCOUNT]


async def test_a_drivers_error_is_one_line(inventory_url: str) -> None:
    """A write the database refuses is an InventoryError of one line (PostgreSQL's
    detail and hint lines joined with spaces, an error without words named by its type),
    and leaves the inventory usable: the crawl can still be finished."""
    async with open_inventory(inventory_url):
        pass  # the schema
    if inventory_url.startswith("sqlite:///"):
        with sqlite3.connect(inventory_url[len("sqlite:///") :]) as conn:
            conn.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON batch_jobs "
                "BEGIN SELECT RAISE(ABORT, ''); END"
            )
        expected = "IntegrityError"
    else:
        import psycopg

        async with await psycopg.AsyncConnection.connect(inventory_url, autocommit=True) as conn:
            await conn.execute(
                b"CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                b"RAISE EXCEPTION 'no room for jobs' USING DETAIL = 'the disk is full', "
                b"HINT = 'free some'; END $$"
            )
            await conn.execute(
                b"CREATE TRIGGER refuse BEFORE INSERT ON batch_jobs "
                b"FOR EACH ROW EXECUTE FUNCTION refuse()"
            )
        expected = "no room for jobs DETAIL:  the disk is full HINT:  free some CONTEXT:  "
    async with open_inventory(inventory_url) as inventory:
        run = await inventory.begin_crawl()
        with pytest.raises(InventoryError) as info:
            await run.write(page([inference(1)], None))
        result = await run.finish()  # the failed write's transaction was ended
    assert (result.status, result.seen) == ("complete", 0)
    assert await query(inventory_url, "SELECT count(*) FROM crawl_listings") == [(0,)]
    message = str(info.value)
    assert message.startswith(f"cannot write to {inventory_url}: {expected}")
    assert "\n" not in message
    if inventory_url.startswith("sqlite:///"):
        assert message == f"cannot write to {inventory_url}: {expected}"


@pytest.mark.parametrize(
    "bad",
    [
        Page((inference(9),), None, None, None, "inference"),
        Page((inference(9),), None, None, REGION),
    ],
    ids=["no region", "no kind"],
)
def test_the_backends_refuse_a_page_without_its_listing_too(bad: Page[Any]) -> None:
    """The rows the backends write are made only of a crawl's pages: a page naming no
    region, or no kind, is refused there too (the crawl refuses it first), in words."""
    with pytest.raises(InventoryError) as info:
        merge_pages([page([inference(1)], None), bad])
    assert str(info.value) == "a page without its listing (region and kind): not a crawl's"


async def test_pages_of_one_listing_written_together_leave_its_last_position(
    inventory_url: str,
) -> None:
    """Several pages of one listing in one write count each page and job, keep the
    account of the first page that had jobs, and leave the last page's token (done when
    it is the last page); each listing of the write keeps its own position."""
    async with open_inventory(inventory_url) as inventory:
        run = await inventory.begin_crawl()
        await run.write_pages(
            [
                page([], "i1"),
                page([segment(1)], "s1", "segment"),
                page([inference(1), inference(2)], "i2"),
                page([segment(2), segment(3)], "s2", "segment"),
                page([inference(3)], None),
            ]
        )
        await run.write_pages([page([], "s3", "segment")])
    async with open_inventory(inventory_url) as inventory:
        resumed = await inventory.begin_crawl()
        assert dict(resumed.resume) == {
            (REGION, "inference", None): None,
            (REGION, "segment", None): "s3",
        }
    listings = await query(
        inventory_url,
        "SELECT kind, account, next_token, done, pages, jobs FROM crawl_listings ORDER BY kind",
    )
    assert [(k, a, t, bool(d), p, j) for k, a, t, d, p, j in listings] == [
        ("inference", ACCOUNT, None, True, 3, 3),
        ("segment", ACCOUNT, "s3", False, 3, 3),
    ]
