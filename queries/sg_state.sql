-- name: sg_state
-- params: until, account, region, first_day, days
-- Every AWS Config item (and EC2 describe output read as one) of a security group, captured before
-- `until`: when, its status, the CloudTrail events Config related to it, and its configuration as
-- JSON text. The rules are read from the configuration in Python (audit_toolkit.analysis.state).
-- With `first_day`, only the day folders in `days` are read (Config's keys are 'YYYY/M/D', not
-- zero-padded, so a range of strings would not be a range of days: the days are listed, which
-- Athena's partition projection prunes by); files with no day folder (loose files) are all read.
-- `delivery` is the folder the file came from: ConfigSnapshot, ConfigHistory, or describe.
-- An item of Config's delivery whose account or region (awsAccountId, awsRegion, its ARN's) is not
-- its folder's (AWSLogs/<account>/Config/<region>/) is not read: read as its own, it closed another
-- account's windows. The embedded intake rejects it with its reason (evidence.state._in_its_folder);
-- Athena has no intake, so this query leaves it out, uncounted.
SELECT
    item.configurationitemcapturetime AS capture_time,
    item.configurationitemstatus AS status,
    item.resourceid AS group_id,
    item.resourcename AS group_name,
    coalesce(item.awsaccountid, c.account) AS account,
    coalesce(item.awsregion, c.region) AS region,
    array_join(item.relatedevents, ',') AS related_events,
    item.configuration AS configuration,
    c.kind AS delivery
FROM config AS c
CROSS JOIN UNNEST(c.configurationitems) AS t(item)
WHERE item.resourcetype = 'AWS::EC2::SecurityGroup'
  AND (:until IS NULL
       OR from_iso8601_timestamp(item.configurationitemcapturetime) < from_iso8601_timestamp(:until))
  AND (:account IS NULL OR coalesce(item.awsaccountid, c.account) = :account)
  AND (:region IS NULL OR coalesce(item.awsregion, c.region) = :region)
  AND (:first_day IS NULL OR c.day IS NULL OR c.day IN (:days))
  AND (c.kind IS NULL OR c.kind NOT IN ('ConfigSnapshot', 'ConfigHistory') OR (
      (c.account IS NULL OR coalesce(nullif(item.awsaccountid, ''), c.account) = c.account)
      AND (c.region IS NULL OR coalesce(nullif(item.awsregion, ''), c.region) = c.region)
      AND (item.arn IS NULL
           OR NOT regexp_like(item.arn, '^arn:aws[a-z-]*:ec2:[a-z0-9-]+:[0-9]{12}:')
           OR (c.account IS NULL OR split_part(item.arn, ':', 5) = c.account)
              AND (c.region IS NULL OR split_part(item.arn, ':', 4) = c.region))))
ORDER BY capture_time, group_id
