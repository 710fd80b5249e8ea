-- name: evidence_span
-- params: since, until, since_day, until_day, account, region
-- How much evidence the scope holds: first and last event time, events, accounts and regions.
SELECT
    min(from_iso8601_timestamp(eventtime)) AS first_event,
    max(from_iso8601_timestamp(eventtime)) AS last_event,
    count(*) AS events,
    count(DISTINCT account) AS accounts,
    count(DISTINCT region) AS regions
FROM cloudtrail
WHERE (:since_day IS NULL OR day >= :since_day)
  AND (:until_day IS NULL OR day <= :until_day)
  AND (:since IS NULL OR from_iso8601_timestamp(eventtime) >= from_iso8601_timestamp(:since))
  AND (:until IS NULL OR from_iso8601_timestamp(eventtime) < from_iso8601_timestamp(:until))
  AND (:account IS NULL OR account = :account)
  AND (:region IS NULL OR region = :region)
