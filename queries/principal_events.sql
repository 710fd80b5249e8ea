-- name: principal_events
-- params: principal, since, until, since_day, until_day, account, region
-- Everything one principal did: the actor's activity timeline.
-- `principal` matches the identity's ARN, the role it assumed (session issuer ARN), its access key id,
-- its user name or principal id, or the role session name (the part after the last '/').
SELECT
    eventtime, eventid, eventname, eventsource, account, region,
    useridentity.type AS identity_type,
    useridentity.principalid AS principal_id,
    useridentity.arn AS identity_arn,
    useridentity.accountid AS identity_account,
    useridentity.invokedby AS invoked_by,
    useridentity.accesskeyid AS access_key_id,
    useridentity.username AS user_name,
    useridentity.sessioncontext.sessionissuer.type AS issuer_type,
    useridentity.sessioncontext.sessionissuer.arn AS issuer_arn,
    useridentity.sessioncontext.sessionissuer.username AS issuer_name,
    useridentity.sessioncontext.attributes.mfaauthenticated AS mfa_authenticated,
    useridentity.onbehalfof.userid AS on_behalf_of,
    sourceipaddress, useragent, errorcode, errormessage, requestparameters, responseelements
FROM cloudtrail
WHERE (
      useridentity.arn = :principal
      OR useridentity.sessioncontext.sessionissuer.arn = :principal
      OR useridentity.accesskeyid = :principal
      OR useridentity.username = :principal
      OR useridentity.principalid = :principal
      OR element_at(split(useridentity.arn, '/'), -1) = :principal
  )
  AND (:since_day IS NULL OR day >= :since_day)
  AND (:until_day IS NULL OR day <= :until_day)
  AND (:since IS NULL OR from_iso8601_timestamp(eventtime) >= from_iso8601_timestamp(:since))
  AND (:until IS NULL OR from_iso8601_timestamp(eventtime) < from_iso8601_timestamp(:until))
  AND (:account IS NULL OR account = :account)
  AND (:region IS NULL OR region = :region)
ORDER BY eventtime, eventid
