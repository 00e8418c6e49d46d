"""The real service, behind an explicit opt-in and guard rails.

Real SQS costs money (about $0.40 per million standard requests) and acts on
a real account, so this backend:

- refuses to start unless ``allow_aws=True`` is passed, or ``allow_aws`` is
  left out and the environment variable ``SQS_LAB_ALLOW_AWS`` is ``1`` (an
  explicit ``allow_aws=False`` always refuses);
- needs a region, and says which settings it looked at when there is none;
- checks that credentials exist before any request, naming where it looked;
- gives every queue it creates the prefix ``sqslab-<run id>-`` and the tag
  ``sqs-lab-run``, deletes them on close, and touches no other queue;
- caps the messages one connection may send (``max_messages``, 10,000 by
  default) so a mistaken loop cannot run up a bill.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.exceptions import ProfileNotFound

from labsupport.backends.connection import Connection, client_config, new_run_id
from labsupport.errors import (
    AwsOptInRequired,
    ConfigError,
    MissingCredentials,
    MissingRegion,
)

__all__ = ["OPT_IN_ENV", "open_aws"]

OPT_IN_ENV = "SQS_LAB_ALLOW_AWS"
DEFAULT_MESSAGE_CAP = 10_000
RUN_TAG = "sqs-lab-run"


def open_aws(
    region: str | None = None,
    *,
    allow_aws: bool | None = None,
    profile: str | None = None,
    max_messages: int | None = DEFAULT_MESSAGE_CAP,
    session: Any = None,
) -> Connection:
    """Connect to real SQS. See the module text for the guard rails.

    ``session`` may be a ready boto3 session (tests pass one whose client
    is stubbed).
    """
    if allow_aws is not None and not isinstance(allow_aws, bool):
        # A string such as "false" from papermill or a config file is truthy:
        # only a real True may opt in to a paid service.
        raise ConfigError(
            f"Invalid allow_aws: must be True or False; got {allow_aws!r}."
        )
    # An explicit False wins over a leftover environment variable.
    opted_in = allow_aws if allow_aws is not None else os.environ.get(OPT_IN_ENV) == "1"
    if not opted_in:
        raise AwsOptInRequired(
            "The aws backend sends requests to real Amazon SQS, which costs money. "
            f"Opt in with connect('aws', allow_aws=True) or {OPT_IN_ENV}=1 "
            "(sqs-lab: --allow-aws)."
        )
    if session is None:
        try:
            session = boto3.session.Session(profile_name=profile, region_name=region)
        except ProfileNotFound as err:
            raise MissingCredentials(
                f"The AWS profile {err.kwargs.get('profile')!r} is not configured "
                "(AWS_PROFILE or profile=). List yours with "
                "'aws configure list-profiles'."
            ) from None
    region = region or session.region_name
    if not region:
        raise MissingRegion(
            "The aws backend needs a region: pass region='eu-west-1' (sqs-lab: "
            "--region), or set AWS_REGION / AWS_DEFAULT_REGION or a region in "
            "~/.aws/config."
        )
    if session.get_credentials() is None:
        raise MissingCredentials(
            "No AWS credentials found for the aws backend. Looked at: the "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY variables, AWS_PROFILE"
            f"{' (' + profile + ')' if profile else ''}, the shared credentials "
            "and config files (~/.aws/credentials and ~/.aws/config, or where "
            "AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE point), and instance "
            "roles. Configure one (aws configure), or use an offline backend."
        )
    run_id = new_run_id()
    client = session.client("sqs", region_name=region, config=client_config())
    return Connection(
        backend="aws",
        client=client,
        region=region,
        run_id=run_id,
        session=session,
        queue_prefix=f"sqslab-{run_id}-",
        tags={RUN_TAG: run_id},
        max_messages=max_messages,
    )
