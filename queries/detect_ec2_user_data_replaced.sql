-- name: detect_ec2_user_data_replaced
-- params: since, until, since_day, until_day, account, region
-- Detection `ec2_user_data_replaced`: EC2 instance user data replaced. Candidate events, failed
-- calls included: ec2.amazonaws.com ModifyInstanceAttribute.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
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
WHERE (eventsource = 'ec2.amazonaws.com' AND eventname IN ('ModifyInstanceAttribute'))
  AND (:since_day IS NULL OR day >= :since_day)
  AND (:until_day IS NULL OR day <= :until_day)
  AND (:since IS NULL OR from_iso8601_timestamp(eventtime) >= from_iso8601_timestamp(:since))
  AND (:until IS NULL OR from_iso8601_timestamp(eventtime) < from_iso8601_timestamp(:until))
  AND (:account IS NULL OR account = :account)
  AND (:region IS NULL OR region = :region)
ORDER BY eventtime, eventid
