-- name: event_ids
-- params: since, until, since_day, until_day, account, region
-- The id of every event in the scope: which CloudTrail events the evidence holds, to check the
-- events an AWS Config item names in relatedEvents.
SELECT DISTINCT eventid
FROM cloudtrail
WHERE (:since_day IS NULL OR day >= :since_day)
  AND (:until_day IS NULL OR day <= :until_day)
  AND (:since IS NULL OR from_iso8601_timestamp(eventtime) >= from_iso8601_timestamp(:since))
  AND (:until IS NULL OR from_iso8601_timestamp(eventtime) < from_iso8601_timestamp(:until))
  AND (:account IS NULL OR account = :account)
  AND (:region IS NULL OR region = :region)
ORDER BY eventid
