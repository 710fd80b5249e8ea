"""The CloudTrail record as AWS writes it, and the `cloudtrail` table as Athena declares it.

The table mirrors the CloudTrail DDL in AWS's Athena documentation: lowercase names, `useridentity`
and `tlsdetails` as structs, `resources` as an array of structs, and the free-form JSON members
(`requestparameters`, `responseelements`, ...) kept as JSON text. The partition columns `account`,
`region` and `day` ('YYYY/MM/DD') come last, as partition projection declares them.
"""

from __future__ import annotations

import msgspec
import pyarrow as pa

Str = str | None
# Raw JSON members that are absent; `null` arrives as Raw(b"null"). Both become SQL NULL.
NO_JSON = msgspec.Raw(b"")
# A few members are strings in the documentation but booleans in some writers; both are accepted.
Flag = str | bool | None


class SessionIssuer(msgspec.Struct, omit_defaults=True):
    type: Str = None
    principalId: Str = None
    arn: Str = None
    accountId: Str = None
    userName: Str = None


class SessionAttributes(msgspec.Struct, omit_defaults=True):
    mfaAuthenticated: Flag = None
    creationDate: Str = None


class SessionContext(msgspec.Struct, omit_defaults=True):
    attributes: SessionAttributes | None = None
    sessionIssuer: SessionIssuer | None = None
    ec2RoleDelivery: Str = None
    sourceIdentity: Str = None


class OnBehalfOf(msgspec.Struct, omit_defaults=True):
    userId: Str = None
    identityStoreArn: Str = None


class UserIdentity(msgspec.Struct, omit_defaults=True):
    type: Str = None
    principalId: Str = None
    arn: Str = None
    accountId: Str = None
    invokedBy: Str = None
    accessKeyId: Str = None
    userName: Str = None
    onBehalfOf: OnBehalfOf | None = None
    sessionContext: SessionContext | None = None


class Resource(msgspec.Struct, omit_defaults=True):
    ARN: Str = None
    accountId: Str = None
    type: Str = None


class TlsDetails(msgspec.Struct, omit_defaults=True):
    tlsVersion: Str = None
    cipherSuite: Str = None
    clientProvidedHostHeader: Str = None


class Event(msgspec.Struct):
    """One CloudTrail record. JSON members of free shape stay raw, exactly as logged."""

    eventVersion: Str = None
    userIdentity: UserIdentity | None | msgspec.UnsetType = msgspec.UNSET  # null is rejected, absent is not
    eventTime: Str = None
    eventSource: Str = None
    eventName: Str = None
    awsRegion: Str = None
    sourceIPAddress: Str = None
    userAgent: Str = None
    errorCode: Str = None
    errorMessage: Str = None
    requestParameters: msgspec.Raw = NO_JSON
    responseElements: msgspec.Raw = NO_JSON
    additionalEventData: msgspec.Raw = NO_JSON
    requestID: Str = None
    eventID: Str = None
    resources: list[Resource] | None = None
    eventType: Str = None
    apiVersion: Str = None
    readOnly: Flag = None
    recipientAccountId: Str = None
    serviceEventDetails: msgspec.Raw = NO_JSON
    sharedEventID: Str = None
    vpcEndpointId: Str = None
    eventCategory: Str = None
    tlsDetails: TlsDetails | None = None
    # Logstash exports (e.g. OTRF) carry the time here and no eventTime.
    timestamp: Str = msgspec.field(default=None, name="@timestamp")


_s = pa.string()
USERIDENTITY = pa.struct(
    [
        ("type", _s),
        ("principalid", _s),
        ("arn", _s),
        ("accountid", _s),
        ("invokedby", _s),
        ("accesskeyid", _s),
        ("username", _s),
        ("onbehalfof", pa.struct([("userid", _s), ("identitystorearn", _s)])),
        (
            "sessioncontext",
            pa.struct(
                [
                    ("attributes", pa.struct([("mfaauthenticated", _s), ("creationdate", _s)])),
                    (
                        "sessionissuer",
                        pa.struct(
                            [("type", _s), ("principalid", _s), ("arn", _s), ("accountid", _s), ("username", _s)]
                        ),
                    ),
                    ("ec2roledelivery", _s),
                    ("sourceidentity", _s),
                ]
            ),
        ),
    ]
)
RESOURCES = pa.list_(pa.struct([("arn", _s), ("accountid", _s), ("type", _s)]))
TLSDETAILS = pa.struct([("tlsversion", _s), ("ciphersuite", _s), ("clientprovidedhostheader", _s)])

CLOUDTRAIL_SCHEMA = pa.schema(
    [
        ("eventversion", _s),
        ("useridentity", USERIDENTITY),
        ("eventtime", _s),
        ("eventsource", _s),
        ("eventname", _s),
        ("awsregion", _s),
        ("sourceipaddress", _s),
        ("useragent", _s),
        ("errorcode", _s),
        ("errormessage", _s),
        ("requestparameters", _s),
        ("responseelements", _s),
        ("additionaleventdata", _s),
        ("requestid", _s),
        ("eventid", _s),
        ("resources", RESOURCES),
        ("eventtype", _s),
        ("apiversion", _s),
        ("readonly", _s),
        ("recipientaccountid", _s),
        ("serviceeventdetails", _s),
        ("sharedeventid", _s),
        ("vpcendpointid", _s),
        ("eventcategory", _s),
        ("tlsdetails", TLSDETAILS),
        ("account", _s),
        ("region", _s),
        ("day", _s),
    ]
)
PARTITION_COLUMNS = ("account", "region", "day")
# Where each event was read, beside the table's columns in the embedded engine: Athena's own
# pseudo-column "$path" (the file), and the record's position in it, which Athena has no column
# for. Within one second, a file's order proves the order of its events (security_groups).
PROVENANCE_COLUMNS = ("$path", "record_index")
STORED_SCHEMA = CLOUDTRAIL_SCHEMA.append(pa.field("$path", _s)).append(
    pa.field("record_index", pa.int64()))
# What a scan for one question keeps of every usable event it does not convert whole (reader `only`).
SPINE_COLUMNS = frozenset({"eventtime", "eventid", "account", "region", "day", *PROVENANCE_COLUMNS})
KNOWN_EVENT_VERSIONS = frozenset({"1.0", "1.01", "1.02", "1.03", "1.04", "1.05", "1.06", "1.07", "1.08", "1.09", "1.10", "1.11"})
