-- name: sg_changes
-- params: since, until, since_day, until_day, account, region
-- embedded_columns: record_index
-- Every call that creates, deletes or changes a security group or its rules, failed calls
-- included: EC2 security groups, the managed prefix lists their rules may name, classic RDS DB
-- security groups.
-- The rules themselves are read from requestparameters/responseelements in Python
-- (audit_toolkit.analysis.security_groups), which knows every request shape.
-- The file each event was read from (and, on the embedded engine, its position in the file) orders
-- the events of one second (security_groups.in_proven_order); Athena has no column for the position.
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
    sourceipaddress, useragent, errorcode, errormessage, requestparameters, responseelements,
    "$path" AS source_file
FROM cloudtrail
WHERE (
      -- Names and sources are matched case and every other character aside (events.name_key):
      -- AWS writes neither otherwise, and a forged `authorizesecuritygroupingress` must not hide
      -- its call (security_groups.normalize reads it, and says it).
      regexp_replace(lower(eventsource), '[^a-z0-9.]', '') = 'ec2.amazonaws.com'
      AND regexp_replace(lower(eventname), '[^a-z0-9]', '') IN (
          'authorizesecuritygroupingress', 'authorizesecuritygroupegress',
          'revokesecuritygroupingress', 'revokesecuritygroupegress',
          'modifysecuritygrouprules', 'createsecuritygroup', 'deletesecuritygroup',
          'updatesecuritygroupruledescriptionsingress', 'updatesecuritygroupruledescriptionsegress',
          'createmanagedprefixlist', 'modifymanagedprefixlist', 'restoremanagedprefixlistversion'
      )
      OR regexp_replace(lower(eventsource), '[^a-z0-9.]', '') = 'rds.amazonaws.com'
      AND regexp_replace(lower(eventname), '[^a-z0-9]', '') IN (
          'authorizedbsecuritygroupingress', 'revokedbsecuritygroupingress', 'deletedbsecuritygroup'
      )
  )
  AND (:since_day IS NULL OR day >= :since_day)
  AND (:until_day IS NULL OR day <= :until_day)
  AND (:since IS NULL OR from_iso8601_timestamp(eventtime) >= from_iso8601_timestamp(:since))
  AND (:until IS NULL OR from_iso8601_timestamp(eventtime) < from_iso8601_timestamp(:until))
  AND (:account IS NULL OR account = :account)
  AND (:region IS NULL OR region = :region)
ORDER BY eventtime, eventid
