-- name: findings
-- params: since, until, since_day, until_day, account, region, min_severity double
-- GuardDuty findings whose activity (first to last seen) overlaps the time range, at or above a
-- severity. The export folders a finding by the day of the update that exported it, never before its
-- last activity, and exports it again at each update (every 6 hours at most): the folders from
-- `since_day` to `until_day` (the day after `until`) hold every finding active in the range, as known
-- by then. `resource` and `service` stay JSON text; they are flattened in Python
-- (audit_toolkit.evidence.guardduty.normalize).
SELECT
    schemaversion, accountid, region, partition, id, arn, type, resource, service, severity,
    createdat, updatedat, title, description, account, export_region, day
FROM guardduty
WHERE (:since_day IS NULL OR day >= :since_day)
  AND (:until_day IS NULL OR day <= :until_day)
  AND (:since IS NULL OR from_iso8601_timestamp(coalesce(json_extract_scalar(service, '$.eventLastSeen'), updatedat))
                         >= from_iso8601_timestamp(:since))
  AND (:until IS NULL OR from_iso8601_timestamp(coalesce(json_extract_scalar(service, '$.eventFirstSeen'), createdat))
                         < from_iso8601_timestamp(:until))
  AND (:account IS NULL OR account = :account)
  AND (:region IS NULL OR (region = :region AND export_region = :region))
  AND (:min_severity IS NULL OR try_cast(severity AS DOUBLE) >= :min_severity)
ORDER BY id, updatedat
