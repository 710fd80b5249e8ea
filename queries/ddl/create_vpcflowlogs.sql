-- VPC Flow Logs delivered to S3, after AWS's Athena documentation ("Create and query a table for
-- Amazon VPC flow logs using partition projection"): the columns of the flow log's format in the
-- order its files give them, then the table's other columns, which a shorter line leaves NULL, so
-- that one query text runs whatever the format; '-' is NULL, as on DuckDB. The partitions are named
-- as the cloudtrail table's (`account`, `region`, `day`); `day` is 'yyyy/MM/dd', or 'yyyy/MM/dd/HH'
-- for a flow log partitioned by hour, so that a window's query reads only its days or hours.
CREATE EXTERNAL TABLE IF NOT EXISTS `{{database}}`.`vpcflowlogs` (
{{columns}}
)
PARTITIONED BY (`account` STRING, `region` STRING, `day` STRING)
{{storage}}
LOCATION '{{flow_logs}}'
TBLPROPERTIES (
{{header}}    'projection.enabled' = 'true',
    'projection.account.type' = 'enum',
    'projection.account.values' = '{{accounts}}',
    'projection.region.type' = 'enum',
    'projection.region.values' = '{{regions}}',
    'projection.day.type' = 'date',
    'projection.day.format' = '{{day_format}}',
    'projection.day.range' = '{{flow_first}},NOW',
    'projection.day.interval' = '1',
    'projection.day.interval.unit' = '{{day_unit}}',
    'storage.location.template' = '{{flow_logs}}${account}/vpcflowlogs/${region}/${day}'
)
