-- name: hourly_events
-- params: since, until, since_day, until_day, account, region
-- Events per account, region and hour: the raw material of coverage (hours with no events at all).
SELECT
    account, region,
    date_trunc('hour', from_iso8601_timestamp(eventtime)) AS hour,
    count(*) AS events
FROM cloudtrail
WHERE (:since_day IS NULL OR day >= :since_day)
  AND (:until_day IS NULL OR day <= :until_day)
  AND (:since IS NULL OR from_iso8601_timestamp(eventtime) >= from_iso8601_timestamp(:since))
  AND (:until IS NULL OR from_iso8601_timestamp(eventtime) < from_iso8601_timestamp(:until))
  AND (:account IS NULL OR account = :account)
  AND (:region IS NULL OR region = :region)
GROUP BY account, region, date_trunc('hour', from_iso8601_timestamp(eventtime))
ORDER BY account, region, hour
