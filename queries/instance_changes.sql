-- name: instance_changes
-- params: since, until, since_day, until_day, account, region
-- Calls that put an instance or a network interface into security groups: RunInstances (the groups
-- it launched with), ModifyInstanceAttribute and ModifyNetworkInterfaceAttribute (a new group set),
-- CreateNetworkInterface (an interface in its groups) and AttachNetworkInterface (on an instance).
-- Which instance was in which group when is decided in Python (audit_toolkit.analysis.findings).
SELECT
    eventtime, eventid, eventname, account, region, errorcode, requestparameters, responseelements
FROM cloudtrail
WHERE eventsource = 'ec2.amazonaws.com'
  AND eventname IN ('RunInstances', 'ModifyInstanceAttribute', 'ModifyNetworkInterfaceAttribute',
                    'CreateNetworkInterface', 'AttachNetworkInterface')
  AND errorcode IS NULL
  AND (:since_day IS NULL OR day >= :since_day)
  AND (:until_day IS NULL OR day <= :until_day)
  AND (:since IS NULL OR from_iso8601_timestamp(eventtime) >= from_iso8601_timestamp(:since))
  AND (:until IS NULL OR from_iso8601_timestamp(eventtime) < from_iso8601_timestamp(:until))
  AND (:account IS NULL OR account = :account)
  AND (:region IS NULL OR region = :region)
ORDER BY eventtime, eventid
