-- AWS Config's delivery to S3 (configuration snapshots and history), as AWS's Athena examples for
-- Config declare it: one row per file, its configuration items an array of structs, each item's
-- `configuration` kept as JSON text (read in Python: audit_toolkit.analysis.state). Config writes
-- AWSLogs/<account>/Config/<region>/YYYY/M/D/ConfigSnapshot|ConfigHistory/ with month and day not
-- zero-padded, hence the day format 'yyyy/M/d' and the `kind` partition for the last folder.
CREATE EXTERNAL TABLE IF NOT EXISTS `{{database}}`.`config` (
    `fileversion` STRING,
    `configsnapshotid` STRING,
    `configurationitems` ARRAY<STRUCT<
        configurationitemversion: STRING,
        configurationitemcapturetime: STRING,
        configurationstateid: STRING,
        awsaccountid: STRING,
        configurationitemstatus: STRING,
        resourcetype: STRING,
        resourceid: STRING,
        resourcename: STRING,
        arn: STRING,
        awsregion: STRING,
        availabilityzone: STRING,
        resourcecreationtime: STRING,
        configuration: STRING,
        relatedevents: ARRAY<STRING>
    >>
)
PARTITIONED BY (`account` STRING, `region` STRING, `day` STRING, `kind` STRING)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
LOCATION '{{config}}'
TBLPROPERTIES (
    'projection.enabled' = 'true',
    'projection.account.type' = 'enum',
    'projection.account.values' = '{{accounts}}',
    'projection.region.type' = 'enum',
    'projection.region.values' = '{{regions}}',
    'projection.day.type' = 'date',
    'projection.day.format' = 'yyyy/M/d',
    'projection.day.range' = '{{first_day_config}},NOW',
    'projection.day.interval' = '1',
    'projection.day.interval.unit' = 'DAYS',
    'projection.kind.type' = 'enum',
    'projection.kind.values' = 'ConfigSnapshot,ConfigHistory',
    'storage.location.template' = '{{config}}${account}/Config/${region}/${day}/${kind}'
)
