-- name: candidate_events
-- params: since, until, since_day, until_day, account, region
-- Every event in the scope, in the columns every detection reads. Each `detect_*.sql` is a
-- filter over it (`-- filters: candidate_events`): the registry puts the filter before this scope,
-- and `queries.union` ORs several filters into one scan.
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
    sourceipaddress, useragent, errorcode, errormessage, requestparameters, responseelements, additionaleventdata
FROM cloudtrail
WHERE (:since_day IS NULL OR day >= :since_day)
  AND (:until_day IS NULL OR day <= :until_day)
  AND (:since IS NULL OR from_iso8601_timestamp(eventtime) >= from_iso8601_timestamp(:since))
  AND (:until IS NULL OR from_iso8601_timestamp(eventtime) < from_iso8601_timestamp(:until))
  AND (:account IS NULL OR account = :account)
  AND (:region IS NULL OR region = :region)
ORDER BY eventtime, eventid
