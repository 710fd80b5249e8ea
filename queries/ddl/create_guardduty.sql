-- GuardDuty findings exported to S3 (one JSON finding a line, KMS-encrypted), with the columns of
-- AWS's Athena documentation ("Querying Amazon GuardDuty findings"): nested members (resource,
-- service) stay JSON text. The export writes AWSLogs/<account>/GuardDuty/<region>/YYYY/MM/DD/;
-- the region partition is `export_region` because `region` is already a column of the finding.
CREATE EXTERNAL TABLE IF NOT EXISTS `{{database}}`.`guardduty` (
    `schemaversion` STRING,
    `accountid` STRING,
    `region` STRING,
    `partition` STRING,
    `id` STRING,
    `arn` STRING,
    `type` STRING,
    `resource` STRING,
    `service` STRING,
    `severity` STRING,
    `createdat` STRING,
    `updatedat` STRING,
    `title` STRING,
    `description` STRING
)
PARTITIONED BY (`account` STRING, `export_region` STRING, `day` STRING)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
LOCATION '{{findings}}'
TBLPROPERTIES (
    'has_encrypted_data' = 'true',
    'projection.enabled' = 'true',
    'projection.account.type' = 'enum',
    'projection.account.values' = '{{accounts}}',
    'projection.export_region.type' = 'enum',
    'projection.export_region.values' = '{{regions}}',
    'projection.day.type' = 'date',
    'projection.day.format' = 'yyyy/MM/dd',
    'projection.day.range' = '{{first_day}},NOW',
    'projection.day.interval' = '1',
    'projection.day.interval.unit' = 'DAYS',
    'storage.location.template' = '{{findings}}${account}/GuardDuty/${export_region}/${day}'
)
