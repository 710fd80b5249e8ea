-- The database that holds the cloudtrail and guardduty tables.
CREATE DATABASE IF NOT EXISTS `{{database}}`
COMMENT 'audit_toolkit: CloudTrail and GuardDuty findings, with partition projection'
