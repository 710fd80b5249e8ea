-- name: interface_state
-- params: until, account, region, first_day, days
-- Every AWS Config item of a network interface or an instance captured before `until`: when, its
-- status and its configuration as JSON text (the interface's attachment and groups, the instance's
-- interfaces and their groups). Which interface was in which group when is read in Python
-- (audit_toolkit.analysis.findings.config_memberships), beside what CloudTrail says.
-- With `first_day`, only the day folders in `days` are read, as in sg_state (Config's keys are
-- 'YYYY/M/D', not zero-padded: the days are listed, which Athena's partition projection prunes by);
-- loose files with no day folder are all read. `delivery` is the folder the file came from.
SELECT
    item.configurationitemcapturetime AS capture_time,
    item.configurationitemstatus AS status,
    item.resourcetype AS resource_type,
    item.resourceid AS resource_id,
    coalesce(item.awsaccountid, c.account) AS account,
    coalesce(item.awsregion, c.region) AS region,
    item.configuration AS configuration,
    c.kind AS delivery
FROM config AS c
CROSS JOIN UNNEST(c.configurationitems) AS t(item)
WHERE item.resourcetype IN ('AWS::EC2::NetworkInterface', 'AWS::EC2::Instance')
  AND (:until IS NULL
       OR from_iso8601_timestamp(item.configurationitemcapturetime) < from_iso8601_timestamp(:until))
  AND (:account IS NULL OR coalesce(item.awsaccountid, c.account) = :account)
  AND (:region IS NULL OR coalesce(item.awsregion, c.region) = :region)
  AND (:first_day IS NULL OR c.day IS NULL OR c.day IN (:days))
ORDER BY capture_time, resource_id
