"""Set up (and tear down) the SQS queue and EventBridge rule that carry HealthOmics events.

`setup_events(NAME)` makes a queue NAME and a rule NAME on the default event bus, with the
pattern ``{"source": ["aws.omics"]}`` and the queue as its target, and gives EventBridge
leave to send to the queue (a queue policy for ``events.amazonaws.com``, limited to that
rule). Both functions are idempotent. See docs/push.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any

from ._client import Transient, setup_errors
from ._errors import InvalidInputError, OmicsWaiterError, ServiceError
from ._push import SOURCE, translate_error

__all__ = [
    "EVENT_PATTERN",
    "Teardown",
    "check_name",
    "queue_policy",
    "setup_events",
    "teardown_events",
]

logger = logging.getLogger("omics_waiter")

#: The rule's event pattern: every HealthOmics event (the source ignores what it cannot use).
EVENT_PATTERN = {"source": [SOURCE]}

# SQS queue names: 1-80 of [A-Za-z0-9_-]; rule names: 1-64 of [.\-_A-Za-z0-9]. Both: this.
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_NO_QUEUE_CODES = frozenset(
    {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "NonExistentQueue"}
)


def check_name(name: object) -> str:
    """A name for both the queue and the rule: 1 to 64 letters, digits, ``-`` or ``_``."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInputError(
            "name must be 1 to 64 letters, digits, '-' or '_' (it names an SQS queue and an "
            f"EventBridge rule), got {name!r}",
            argument="name",
        )
    return name


def queue_policy(queue_arn: str, rule_arn: str) -> str:
    """The queue policy that lets the rule, and only it, send events to the queue."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "omics-waiter-events",
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
                }
            ],
        }
    )


@contextlib.asynccontextmanager
async def _clients(
    *,
    region_name: str | None,
    profile_name: str | None,
    endpoint_url: str | None,
    credentials: tuple[str | None, str | None, str | None],
) -> AsyncIterator[tuple[Any, Any]]:
    """An SQS client and an EventBridge client for one Region, with botocore's retries."""
    import aiobotocore.session
    from aiobotocore.config import AioConfig

    # A one-off command: botocore's standard retries (3 attempts) absorb a passing throttle.
    config = AioConfig(retries={"mode": "standard"}, connect_timeout=10, read_timeout=30)
    access_key, secret_key, token = credentials
    sqs_endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_SQS") or None
    events_endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_EVENTS") or None
    async with contextlib.AsyncExitStack() as stack:
        with setup_errors(profile_name, region_name):
            session = aiobotocore.session.AioSession(profile=profile_name)
            sqs = await stack.enter_async_context(
                session.create_client(
                    "sqs",
                    region_name=region_name,
                    endpoint_url=sqs_endpoint,
                    config=config,
                    aws_access_key_id=access_key,
                    aws_secret_access_key=secret_key,
                    aws_session_token=token,
                )
            )
            events = await stack.enter_async_context(
                session.create_client(
                    "events",
                    region_name=region_name,
                    endpoint_url=events_endpoint,
                    config=config,
                    aws_access_key_id=access_key,
                    aws_secret_access_key=secret_key,
                    aws_session_token=token,
                )
            )
        yield sqs, events


async def _call(operation: str, resource: str, call: Any, **params: Any) -> Any:
    """One request; every failure leaves as a typed error (retries were botocore's)."""
    try:
        response = await call(**params)
    except Exception as exc:
        translated = translate_error(exc, operation, resource)
        if isinstance(translated, Transient):
            raise ServiceError(
                f"{operation} on {resource} failed, retries included: {translated.reason}",
                code=translated.reason,
                operation=operation,
            ) from exc
        if translated is exc:
            raise
        raise translated from exc
    return response if isinstance(response, Mapping) else {}


def _is_missing(exc: OmicsWaiterError) -> bool:
    return exc.code in _NO_QUEUE_CODES or exc.code == "ResourceNotFoundException"


async def setup_events(
    name: str,
    *,
    region_name: str | None = None,
    profile_name: str | None = None,
    endpoint_url: str | None = None,
    aws_access_key_id: str | None = None,
    aws_secret_access_key: str | None = None,
    aws_session_token: str | None = None,
) -> str:
    """Create (or update) the queue NAME and the rule NAME that feeds it; return the queue URL.

    Idempotent: running it again leaves one queue, one rule and one target, with the
    policy and pattern set again. Make them in the Region where the jobs run.

    Args:
        name: Names the queue, the rule and the rule's target: 1 to 64 letters, digits,
            ``-`` or ``_``.
        region_name: The AWS Region (default: from the profile or environment).
        profile_name: A profile from the AWS config files.
        endpoint_url: Another endpoint than AWS's, for both SQS and EventBridge (default:
            ``AWS_ENDPOINT_URL_SQS`` and ``AWS_ENDPOINT_URL_EVENTS``).
        aws_access_key_id: Explicit credentials (default: the usual credential chain).
        aws_secret_access_key: See above.
        aws_session_token: See above.

    Raises:
        InvalidInputError: A bad name, Region or profile, before any request.
        AccessDeniedError: A request was refused for want of permission or credentials.
        ServiceError: Any other refusal or lasting fault.
    """
    check_name(name)
    credentials = (aws_access_key_id, aws_secret_access_key, aws_session_token)
    async with _clients(
        region_name=region_name,
        profile_name=profile_name,
        endpoint_url=endpoint_url,
        credentials=credentials,
    ) as (sqs, events):
        queue = f"queue {name}"
        rule = f"rule {name}"
        # CreateQueue with no attributes returns the existing queue of that name (with
        # attributes that differ from the existing queue's it would fail instead).
        created = await _call("CreateQueue", queue, sqs.create_queue, QueueName=name)
        queue_url = created.get("QueueUrl")
        if not isinstance(queue_url, str):
            raise ServiceError(f"CreateQueue for {queue} returned no queue URL", code=None)
        attributes = await _call(
            "GetQueueAttributes",
            queue,
            sqs.get_queue_attributes,
            QueueUrl=queue_url,
            AttributeNames=["QueueArn"],
        )
        queue_arn = (attributes.get("Attributes") or {}).get("QueueArn")
        put = await _call(
            "PutRule",
            rule,
            events.put_rule,
            Name=name,
            EventPattern=json.dumps(EVENT_PATTERN),
            State="ENABLED",
            Description="HealthOmics events for omics-waiter",
        )
        rule_arn = put.get("RuleArn")
        if not isinstance(queue_arn, str):
            raise ServiceError(f"GetQueueAttributes for {queue} returned no queue ARN", code=None)
        if not isinstance(rule_arn, str):
            raise ServiceError(f"PutRule for {rule} returned no rule ARN", code=None)
        # The policy before the target, so that no event is refused for want of it.
        await _call(
            "SetQueueAttributes",
            queue,
            sqs.set_queue_attributes,
            QueueUrl=queue_url,
            Attributes={"Policy": queue_policy(queue_arn, rule_arn)},
        )
        targets = await _call(
            "PutTargets",
            rule,
            events.put_targets,
            Rule=name,
            Targets=[{"Id": name, "Arn": queue_arn}],
        )
        failed = targets.get("FailedEntries") or []
        if failed:
            code, message = failed[0].get("ErrorCode"), failed[0].get("ErrorMessage")
            raise ServiceError(
                f"PutTargets on {rule} was refused: {code}: {message}",
                code=code,
                service_message=message,
                operation="PutTargets",
            )
        return queue_url


@dataclasses.dataclass(frozen=True, slots=True)
class Teardown:
    """What `teardown_events` removed, and what was not there.

    Attributes:
        name: The queue's and the rule's name.
        rule_found: Whether the rule NAME existed.
        target_removed: Whether the rule had our target (id NAME), now removed.
        rule_removed: Whether the rule was deleted (it existed and had no other targets).
        other_targets: The IDs of other targets that kept the rule (someone added them).
        queue_removed: Whether the queue NAME existed, now deleted.
    """

    name: str
    rule_found: bool
    target_removed: bool
    rule_removed: bool
    other_targets: tuple[str, ...]
    queue_removed: bool

    def describe(self) -> list[str]:
        """One line for the rule and one for the queue: what was done, or that it was absent.

        ``rule my-waiter: removed, with its target my-waiter``,
        ``queue my-waiter: not there`` ...
        """
        name = self.name
        if not self.rule_found:
            rule = "not there"
        elif self.rule_removed:
            rule = (
                f"removed, with its target {name}"
                if self.target_removed
                else f"removed (it had no target {name})"
            )
        else:
            rule = f"kept: it has other targets ({', '.join(self.other_targets)}); " + (
                f"removed its target {name}" if self.target_removed else f"no target {name}"
            )
        queue = "removed" if self.queue_removed else "not there"
        return [f"rule {name}: {rule}", f"queue {name}: {queue}"]


async def teardown_events(
    name: str,
    *,
    region_name: str | None = None,
    profile_name: str | None = None,
    endpoint_url: str | None = None,
    aws_access_key_id: str | None = None,
    aws_secret_access_key: str | None = None,
    aws_session_token: str | None = None,
) -> Teardown:
    """Remove the rule's target NAME, the rule NAME and the queue NAME, those that exist.

    Idempotent: missing pieces are fine, and the result says which were there. A rule that
    has other targets than ours (someone added them) is kept, with a warning on the
    ``omics_waiter`` logger. The arguments are those of `setup_events`.

    Returns:
        What was removed and what was not there.

    Raises:
        InvalidInputError: A bad name, Region or profile, before any request.
        AccessDeniedError: A request was refused for want of permission or credentials.
        ServiceError: Any other refusal or lasting fault.
    """
    check_name(name)
    credentials = (aws_access_key_id, aws_secret_access_key, aws_session_token)
    async with _clients(
        region_name=region_name,
        profile_name=profile_name,
        endpoint_url=endpoint_url,
        credentials=credentials,
    ) as (sqs, events):
        queue = f"queue {name}"
        rule = f"rule {name}"
        rule_found = target_removed = rule_removed = queue_removed = False
        others: list[str] = []
        try:
            listed = await _call("ListTargetsByRule", rule, events.list_targets_by_rule, Rule=name)
            rule_found = True
            ids = [str(t.get("Id")) for t in listed.get("Targets") or ()]
            others = [i for i in ids if i != name]
            if name in ids:
                await _call("RemoveTargets", rule, events.remove_targets, Rule=name, Ids=[name])
                target_removed = True
            if others:
                logger.warning(
                    "kept EventBridge rule %s: it has other targets (%s)", name, ", ".join(others)
                )
            else:
                await _call("DeleteRule", rule, events.delete_rule, Name=name)
                rule_removed = True
        except OmicsWaiterError as exc:
            if not _is_missing(exc):
                raise
        try:
            found = await _call("GetQueueUrl", queue, sqs.get_queue_url, QueueName=name)
            await _call("DeleteQueue", queue, sqs.delete_queue, QueueUrl=found.get("QueueUrl"))
            queue_removed = True
        except OmicsWaiterError as exc:
            if not _is_missing(exc):
                raise
        return Teardown(
            name=name,
            rule_found=rule_found,
            target_removed=target_removed,
            rule_removed=rule_removed,
            other_targets=tuple(others),
            queue_removed=queue_removed,
        )
