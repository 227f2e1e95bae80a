"""The service: Amazon Personalize's AWS JSON 1.1 protocol over an aiohttp application.

Every AWS request is ``POST /`` with ``X-Amz-Target: AmazonPersonalize.<Operation>``
and a JSON body; every answer is JSON with an ``x-amzn-RequestId`` header, errors as
``{"__type": code, "message": text}``. A request goes through, in order: counting,
injected latency, authentication, injected throttling and server errors, operation
lookup, JSON decoding, validation against the service model, and the operation.

Control endpoints live under ``/_emulator/`` (never ``POST /``): ``GET stats``,
``POST reset``, ``GET``/``POST faults``.

Where the public API reference and botocore's model disagree, the model wins:
- The reference lists batch job statuses (PENDING, IN PROGRESS, ACTIVE, CREATE
  FAILED); the model types ``Status`` as any string up to 256 characters, so no
  request member is checked against them (none takes a status anyway).
- ``ListDatasetGroups`` declares only ``InvalidNextTokenException``, yet its
  ``maxResults`` has the 1-100 range: out-of-range values get the
  ``InvalidInputException`` every other list operation gives.
- Creating a batch job on a solution version that is not ACTIVE (CREATE FAILED or
  CREATE STOPPED) is answered ``ResourceInUseException``, the create operations' error
  for a resource in the wrong state (the reference does not say which one it is).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import parse_qsl

from aiohttp import web

from ._auth import parse_authorization, request_region
from ._errors import ServiceError
from ._faults import FaultInjector, Faults, Stats
from ._identity import (
    ORGANIZATIONS_TARGET_PREFIX,
    Caller,
    Identity,
    json_dumps,
    list_accounts_limit,
    sts_error_xml,
)
from ._inventory import KINDS, CreatedJob, JobKind, RegionInventory
from ._model import ACCOUNT_ID, CONTENT_TYPE, SERVICE_NAME, service_model, target_prefix
from ._options import EmulatorOptions
from ._tokens import Cursor, TokenCodec, derive_key
from ._validation import validate

__all__ = ["CONTROL_PREFIX", "Service"]

_logger = logging.getLogger("aiopersonalize.emulator")

CONTROL_PREFIX = "/_emulator"
_DEFAULT_MAX_RESULTS = 100
_MAX_TAGS = 50
_UNKNOWN_OPERATION = "<unknown>"
# The list operations filtered on a solution version (subject to the version faults).
_FILTERED_LISTS = frozenset({"ListBatchInferenceJobs", "ListBatchSegmentJobs"})

Handler = Callable[[dict[str, Any], RegionInventory], str]


class Service:
    """Amazon Personalize's batch-job inventory, answering AWS JSON 1.1 requests."""

    def __init__(self, options: EmulatorOptions) -> None:
        """Set up the service (no socket: ``Emulator`` serves it).

        Args:
            options: the emulator's settings, already checked by the record.
        """
        clock = options.clock
        self.spec = options.inventory
        self.seed = options.seed
        self.faults = options.faults
        self.stats = Stats()
        self._clock = clock if clock is not None else time.time
        self._transition_ms = round(options.job_transition_seconds * 1000)
        self.identity = Identity(
            accounts=options.accounts,
            suspended=options.suspended_accounts,
            assume_role_denied=options.assume_role_denied_accounts,
            deny_regions=options.deny_regions,
            credential_lifetime=options.credential_lifetime,
            credentials=options.credentials,
            clock=clock,
        )
        self._injector = FaultInjector(options.seed, clock if clock is not None else time.monotonic)
        self._tokens = TokenCodec(
            derive_key(options.seed, options.inventory.fingerprint(), options.token_secret),
            lifetime=options.token_lifetime,
            clock=self._clock,
        )
        self._regions: dict[tuple[str, str], RegionInventory] = {}
        model = service_model()
        self._prefix = target_prefix() + "."
        self._model_operations = frozenset(model.operation_names)
        handlers: dict[str, Handler] = {
            "ListBatchInferenceJobs": self._list_batch_inference_jobs,
            "ListBatchSegmentJobs": self._list_batch_segment_jobs,
            "DescribeBatchInferenceJob": self._describe_batch_inference_job,
            "DescribeBatchSegmentJob": self._describe_batch_segment_job,
            "CreateBatchInferenceJob": self._create_batch_inference_job,
            "CreateBatchSegmentJob": self._create_batch_segment_job,
            "ListDatasetGroups": self._list_dataset_groups,
            "ListSolutions": self._list_solutions,
            "ListSolutionVersions": self._list_solution_versions,
        }
        self._operations: dict[str, tuple[Handler, Any]] = {
            name: (handler, model.operation_model(name).input_shape)
            for name, handler in handlers.items()
        }

    # -- inventory -------------------------------------------------------------------

    def region(self, name: str, account: str = ACCOUNT_ID) -> RegionInventory:
        """The inventory of region ``name`` of ``account``, built on first use."""
        inventory = self._regions.get((account, name))
        if inventory is None:
            inventory = RegionInventory(self.spec, self.seed, name, account)
            self._regions[account, name] = inventory
        return inventory

    def _now_ms(self) -> int:
        return round(self._clock() * 1000)

    # -- the aiohttp application -----------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/", self.handle)
        app.router.add_get(f"{CONTROL_PREFIX}/stats", self._get_stats)
        app.router.add_post(f"{CONTROL_PREFIX}/reset", self._reset)
        app.router.add_get(f"{CONTROL_PREFIX}/faults", self._get_faults)
        app.router.add_post(f"{CONTROL_PREFIX}/faults", self._set_faults)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        """Answer one AWS request: Personalize's, or Organizations' or STS's."""
        stats = self.stats
        stats.requests += 1
        stats.in_flight += 1
        stats.peak_in_flight = max(stats.peak_in_flight, stats.in_flight)
        request_id = str(uuid.uuid4())
        content_type = CONTENT_TYPE
        try:
            target = request.headers.get("X-Amz-Target", "")
            if target.startswith(ORGANIZATIONS_TARGET_PREFIX):
                status, body = await self._organizations(request, target)
            elif not target and request.content_type == "application/x-www-form-urlencoded":
                status, body = await self._sts(request, request_id)
                content_type = "text/xml"
            else:
                status, body = await self._answer(request)
        finally:
            stats.in_flight -= 1
        return web.Response(
            body=body,
            status=status,
            headers={"Content-Type": content_type, "x-amzn-RequestId": request_id},
        )

    def _caller(self, request: web.Request, raw: bytes, service: str) -> tuple[Caller, str]:
        """Who signed ``request``, checked, and the region it is scoped to."""
        authorization = parse_authorization(request.headers.get("Authorization"))
        caller = self.identity.authenticate(
            authorization, service, request.method, request.raw_path, request.headers, raw
        )
        return caller, request_region(authorization)

    async def _sts(self, request: web.Request, request_id: str) -> tuple[int, bytes]:
        """An STS action (query protocol): XML in, XML out."""
        raw = await request.read()
        params = dict(parse_qsl(raw.decode("utf-8", "replace")))
        operation = params.get("Action", "")
        self.stats.by_operation[operation or _UNKNOWN_OPERATION] += 1
        try:
            caller, _ = self._caller(request, raw, "sts")
            body = self.identity.sts(caller, params).replace("{request_id}", request_id)
            return 200, body.encode()
        except ServiceError as error:
            self._count_error(error)
            return error.status, sts_error_xml(error, request_id).encode()

    async def _organizations(self, request: web.Request, target: str) -> tuple[int, bytes]:
        """An Organizations operation (AWS JSON 1.1); ``ListAccounts`` only."""
        raw = await request.read()
        operation = target[len(ORGANIZATIONS_TARGET_PREFIX) :]
        known = operation == "ListAccounts"
        self.stats.by_operation[operation if known else _UNKNOWN_OPERATION] += 1
        try:
            caller, _ = self._caller(request, raw, "organizations")
            if not known:
                raise ServiceError(
                    "UnknownOperationException",
                    f"The aiopersonalize emulator does not implement {target}.",
                )
            params, decode_error = _decode(raw)
            if decode_error is not None:
                raise decode_error
            limit = list_accounts_limit(params)
            start = 0
            token = params.get("NextToken")
            if token is not None:
                if not isinstance(token, str):
                    raise ServiceError.serialization("NextToken must be a string.")
                try:
                    start = self._tokens.decode("ListAccounts", token).position
                except ServiceError:
                    raise ServiceError(
                        "InvalidInputException", "You specified an invalid value for nextToken."
                    ) from None
            accounts, end = self.identity.list_accounts(caller, start, limit)
            answer: dict[str, Any] = {"Accounts": accounts}
            if end is not None:
                answer["NextToken"] = self._tokens.encode("ListAccounts", Cursor("s", end))
            return 200, json_dumps(answer).encode()
        except ServiceError as error:
            return self._error_answer(error)

    async def _answer(self, request: web.Request) -> tuple[int, bytes]:
        target = request.headers.get("X-Amz-Target", "")
        operation = target[len(self._prefix) :] if target.startswith(self._prefix) else ""
        known = operation in self._operations
        self.stats.by_operation[operation if known else _UNKNOWN_OPERATION] += 1
        raw = await request.read()
        arrived = asyncio.get_running_loop().time()
        params, decode_error = _decode(raw)
        faults = self.faults
        filtered_version = params.get("solutionVersionArn")
        if not isinstance(filtered_version, str) or operation not in _FILTERED_LISTS:
            filtered_version = None
        answer, account = self._compute(
            request, raw, operation, params, decode_error, filtered_version
        )
        delay = self._injector.delay(faults, filtered_version, account)
        if delay > 0:
            # The answer leaves ``delay`` after the request arrived, its own work
            # included, as a service's latency does; not ``delay`` after that work.
            self.stats.delayed += 1
            self.stats.latency_seconds += delay
            await asyncio.sleep(max(0.0, arrived + delay - asyncio.get_running_loop().time()))
        return answer

    def _compute(
        self,
        request: web.Request,
        raw: bytes,
        operation: str,
        params: dict[str, Any],
        decode_error: ServiceError | None,
        filtered_version: str | None,
    ) -> tuple[tuple[int, bytes], str | None]:
        """The answer, and the account the request acted for (``None``: refused before
        its credentials were accepted)."""
        target = request.headers.get("X-Amz-Target", "")
        known = operation in self._operations
        faults = self.faults
        account: str | None = None
        try:
            caller, region = self._caller(request, raw, SERVICE_NAME)
            account = caller.account
            # AWS's request quotas are per account and region: so is the rate cap.
            self._injector.admit(faults, account=caller.account, region=region)
            if not known:
                raise _unknown_operation(target, operation in self._model_operations)
            if decode_error is not None:
                raise decode_error
            if region in self.identity.deny_regions:
                self.identity.check_region(caller, region, operation)
            if filtered_version in faults.deny_solution_versions:
                self.stats.denied += 1
                raise ServiceError(
                    "AccessDeniedException",
                    f"User: {caller.arn} is not authorized to "
                    f"perform: personalize:{operation} on resource: {filtered_version}",
                )
            handler, shape = self._operations[operation]
            validate(shape, params)
            return (200, handler(params, self.region(region, caller.account)).encode()), account
        except ServiceError as error:
            return self._error_answer(error), account
        except Exception:
            # A bug of the emulator's: answered as the service's internal error (which
            # SDKs parse and retry), and logged with its traceback.
            _logger.exception("The emulator failed to answer %s", target)
            failure = ServiceError("InternalFailure", "The emulator failed unexpectedly.", 500)
            return self._error_answer(failure), account

    def _count_error(self, error: ServiceError) -> None:
        if error.code == "ThrottlingException":
            self.stats.throttled += 1
        elif error.status >= 500:
            self.stats.server_errors += 1
        else:
            self.stats.client_errors += 1

    def _error_answer(self, error: ServiceError) -> tuple[int, bytes]:
        self._count_error(error)
        body = {"__type": error.code, "message": error.message}
        return error.status, json.dumps(body).encode()

    # -- control endpoints -----------------------------------------------------------

    async def _get_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats.to_dict())

    async def _reset(self, request: web.Request) -> web.Response:
        self.stats.reset()
        return web.json_response(self.stats.to_dict())

    async def _get_faults(self, request: web.Request) -> web.Response:
        return web.json_response(self.faults.to_dict())

    async def _set_faults(self, request: web.Request) -> web.Response:
        try:
            data = await request.json()
            if not isinstance(data, dict):
                raise TypeError("a JSON object is required")
            self.faults = Faults.from_dict(data)
        except (ValueError, TypeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(self.faults.to_dict())

    # -- paging ----------------------------------------------------------------------

    def _cursor(self, query: str, params: dict[str, Any]) -> Cursor | None:
        token = params.get("nextToken")
        if token is None:
            return None
        return self._tokens.decode(query, cast(str, token))

    def _page(self, key: str, items: list[str], query: str, cursor: Cursor | None) -> str:
        body = f'{{"{key}":[{",".join(items)}]'
        if cursor is not None:
            body += f',"nextToken":"{self._tokens.encode(query, cursor)}"'
        return body + "}"

    def _list_resources(
        self,
        operation: str,
        key: str,
        resources_of: Callable[[RegionInventory], Any],
        parent_member: str | None,
        params: dict[str, Any],
        region: RegionInventory,
    ) -> str:
        parent = params.get(parent_member) if parent_member is not None else None
        query = f"{operation}\x00{parent or ''}\x00{region.region}"
        cursor = self._cursor(query, params)
        limit = params.get("maxResults", _DEFAULT_MAX_RESULTS)
        start = cursor.position if cursor is not None and cursor.segment == "s" else 0
        items, end = region.list_resources(resources_of(region), parent, start, limit)
        return self._page(key, items, query, Cursor("s", end) if end is not None else None)

    def _list_jobs(
        self, operation: str, kind: JobKind, params: dict[str, Any], region: RegionInventory
    ) -> str:
        version = params.get("solutionVersionArn")
        query = f"{operation}\x00{version or ''}\x00{region.region}"
        cursor = self._cursor(query, params)
        limit = params.get("maxResults", _DEFAULT_MAX_RESULTS)
        now_ms = self._now_ms()
        transition_ms = self._transition_ms

        def created_summary(job: CreatedJob) -> str:
            return json.dumps(job.summary(now_ms, transition_ms))

        items, after = region.list_jobs(kind, version, cursor, limit, created_summary)
        return self._page(KINDS[kind].list_key, items, query, after)

    # -- operations ------------------------------------------------------------------

    def _list_batch_inference_jobs(self, params: dict[str, Any], region: RegionInventory) -> str:
        return self._list_jobs("ListBatchInferenceJobs", "inference", params, region)

    def _list_batch_segment_jobs(self, params: dict[str, Any], region: RegionInventory) -> str:
        return self._list_jobs("ListBatchSegmentJobs", "segment", params, region)

    def _list_dataset_groups(self, params: dict[str, Any], region: RegionInventory) -> str:
        return self._list_resources(
            "ListDatasetGroups", "datasetGroups", lambda r: r.dataset_groups, None, params, region
        )

    def _list_solutions(self, params: dict[str, Any], region: RegionInventory) -> str:
        return self._list_resources(
            "ListSolutions", "solutions", lambda r: r.solutions, "datasetGroupArn", params, region
        )

    def _list_solution_versions(self, params: dict[str, Any], region: RegionInventory) -> str:
        solution = params.get("solutionArn")
        # Unlike the other filters, an unknown solution is an error (the model lists
        # ResourceNotFoundException for this operation only).
        if solution is not None and solution not in region.solution_arns:
            raise ServiceError.not_found(solution)
        return self._list_resources(
            "ListSolutionVersions",
            "solutionVersions",
            lambda r: r.versions,
            "solutionArn",
            params,
            region,
        )

    def _describe(self, kind: JobKind, params: dict[str, Any], region: RegionInventory) -> str:
        table = KINDS[kind]
        arn: str = params[table.arn_member]
        created = region.find_created(kind, arn)
        if created is not None:
            job = created.describe(self._now_ms(), self._transition_ms)
        else:
            index = region.jobs[kind].index_of_arn(arn)
            if index is None:
                raise ServiceError.not_found(arn)
            job = region.jobs[kind].describe(index)
        return json.dumps({table.describe_key: job})

    def _describe_batch_inference_job(self, params: dict[str, Any], region: RegionInventory) -> str:
        return self._describe("inference", params, region)

    def _describe_batch_segment_job(self, params: dict[str, Any], region: RegionInventory) -> str:
        return self._describe("segment", params, region)

    def _create(
        self,
        kind: JobKind,
        params: dict[str, Any],
        details: dict[str, Any],
        region: RegionInventory,
    ) -> str:
        name: str = params["jobName"]
        version: str = params["solutionVersionArn"]
        if len(params.get("tags") or ()) > _MAX_TAGS:
            raise ServiceError(
                "TooManyTagsException", f"A resource can have at most {_MAX_TAGS} tags."
            )
        if region.name_taken(kind, name):
            raise ServiceError(
                "ResourceAlreadyExistsException",
                f"Another resource with Arn {region.job_arn_prefix(kind)}{name} already exists.",
            )
        if version not in region.version_index:
            raise ServiceError.not_found(version)
        if region.version_status[version] != "ACTIVE":
            # A batch job needs a trained (ACTIVE) solution version.
            raise ServiceError(
                "ResourceInUseException", f"Solution version {version} is not in ACTIVE state."
            )
        for member in ("filterArn", "numResults", "jobInput", "jobOutput", "roleArn"):
            if params.get(member) is not None:
                details[member] = params[member]
        details.setdefault("numResults", 25)
        job = region.create_job(kind, name, version, self._now_ms(), details)
        return json.dumps({KINDS[kind].arn_member: job.arn})

    def _create_batch_inference_job(self, params: dict[str, Any], region: RegionInventory) -> str:
        mode = params.get("batchInferenceJobMode") or "BATCH_INFERENCE"
        details: dict[str, Any] = {"batchInferenceJobMode": mode}
        theme = params.get("themeGenerationConfig")
        if mode == "THEME_GENERATION" and theme is None:
            raise ServiceError.invalid_input(
                "themeGenerationConfig is required when batchInferenceJobMode is THEME_GENERATION."
            )
        if theme is not None:
            details["themeGenerationConfig"] = theme
        if params.get("batchInferenceJobConfig") is not None:
            details["batchInferenceJobConfig"] = params["batchInferenceJobConfig"]
        return self._create("inference", params, details, region)

    def _create_batch_segment_job(self, params: dict[str, Any], region: RegionInventory) -> str:
        return self._create("segment", params, {}, region)


def _decode(raw: bytes) -> tuple[dict[str, Any], ServiceError | None]:
    """The request's JSON object, or the error to answer if it is not one."""
    if not raw.strip():
        return {}, None
    try:
        params = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return {}, ServiceError.serialization("The request body is not valid JSON.")
    if not isinstance(params, dict):
        return {}, ServiceError.serialization("The request body must be a JSON object.")
    return params, None


def _unknown_operation(target: str, in_model: bool) -> ServiceError:
    if in_model:
        return ServiceError(
            "UnknownOperationException",
            f"The aiopersonalize emulator does not implement {target}.",
        )
    return ServiceError("UnknownOperationException", f"Unknown operation {target!r}.")
