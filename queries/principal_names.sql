-- name: principal_names
-- params: since, until, since_day, until_day, account, region
-- Every name a principal goes by in the scope (ARN, user name, role ARN and name, session name): what
-- `activity` offers as the nearest names when the one asked for names no event.
SELECT DISTINCT name
FROM cloudtrail
CROSS JOIN UNNEST(ARRAY[
    useridentity.arn,
    useridentity.username,
    useridentity.sessioncontext.sessionissuer.arn,
    useridentity.sessioncontext.sessionissuer.username,
    element_at(split(useridentity.arn, '/'), -1)
]) AS names (name)
WHERE name IS NOT NULL
  AND (:since_day IS NULL OR day >= :since_day)
  AND (:until_day IS NULL OR day <= :until_day)
  AND (:since IS NULL OR from_iso8601_timestamp(eventtime) >= from_iso8601_timestamp(:since))
  AND (:until IS NULL OR from_iso8601_timestamp(eventtime) < from_iso8601_timestamp(:until))
  AND (:account IS NULL OR account = :account)
  AND (:region IS NULL OR region = :region)
ORDER BY name
