-- name: evidence_places
-- params: since, until, since_day, until_day, account, region
-- Every account and region that has an event anywhere in the evidence (run without a time range):
-- the places coverage measures over an asked range, so one silent for the whole range is a gap.
SELECT DISTINCT account, region
FROM cloudtrail
WHERE (:since_day IS NULL OR day >= :since_day)
  AND (:until_day IS NULL OR day <= :until_day)
  AND (:since IS NULL OR from_iso8601_timestamp(eventtime) >= from_iso8601_timestamp(:since))
  AND (:until IS NULL OR from_iso8601_timestamp(eventtime) < from_iso8601_timestamp(:until))
  AND (:account IS NULL OR account = :account)
  AND (:region IS NULL OR region = :region)
ORDER BY account, region
