"""AWS access shared by collection and the Athena engine: one session, and errors explained.

Credentials, profile and region follow AWS conventions (the standard credential chain, `AWS_PROFILE`,
`AWS_REGION` or `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL`): nothing is configured in code.
"""

from __future__ import annotations

import os

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    TokenRetrievalError,
)

from .errors import ConfigError

EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch"}
THROTTLED = {"SlowDown", "Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"}


def session(profile: str | None = None, region: str | None = None) -> boto3.Session:
    """A boto3 session from the given profile and region, else the environment's."""
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    try:
        return boto3.Session(profile_name=profile, region_name=region)
    except ProfileNotFound as e:
        raise ConfigError(f"AWS profile {profile!r} is not configured: check AWS_PROFILE or ~/.aws/config") from e


def retry_config() -> Config:
    """Retries with backoff for throttling and dropped connections; AWS_MAX_ATTEMPTS and AWS_RETRY_MODE apply."""
    try:
        attempts = int(os.environ.get("AWS_MAX_ATTEMPTS", "10"))
    except ValueError as e:
        raise ConfigError(f"AWS_MAX_ATTEMPTS must be an integer, got {os.environ['AWS_MAX_ATTEMPTS']!r}") from e
    mode = os.environ.get("AWS_RETRY_MODE", "standard")
    return Config(retries={"mode": mode, "max_attempts": attempts}, max_pool_connections=32)


def code_of(error: BaseException) -> str:
    return error.response.get("Error", {}).get("Code", "") if isinstance(error, ClientError) else ""


def explain(error: BaseException, doing: str) -> str:
    """One clear sentence: what failed while `doing`, and what the user should do about it."""
    if isinstance(error, (NoCredentialsError, PartialCredentialsError)):
        return f"{doing}: no AWS credentials found. Set AWS_PROFILE (or run `aws configure` / `aws sso login`) and re-run."
    if isinstance(error, TokenRetrievalError):
        return f"{doing}: the AWS SSO session has expired. Run `aws sso login` and re-run."
    if isinstance(error, NoRegionError):
        return f"{doing}: no AWS region set. Set AWS_REGION (or --region / the profile's region) and re-run."
    code = code_of(error)
    message = error.response.get("Error", {}).get("Message", "") if isinstance(error, ClientError) else str(error)
    if code in EXPIRED:
        return f"{doing}: the AWS session has expired ({code}). Refresh the credentials (e.g. `aws sso login` or a new session token) and re-run."
    if code in DENIED:
        return f"{doing}: access denied ({code}: {message}). The identity needs the permission for this call; check its IAM and bucket/KMS key policies."
    if code in THROTTLED:
        return f"{doing}: AWS kept throttling the requests ({code}) after retries. Wait a few minutes and re-run."
    if isinstance(error, ClientError):
        return f"{doing}: {code or 'error'}: {message}"
    if isinstance(error, BotoCoreError):
        return f"{doing}: {error}"
    return f"{doing}: {type(error).__name__}: {error}"
