-- CloudTrail logs as AWS's Athena documentation declares them, with the columns and types of the
-- embedded table (audit_toolkit/evidence/schema.py) and partition projection over account, region and
-- day ('YYYY/MM/DD'), so a query that constrains them reads only those S3 folders.
-- {{logs}} is s3://bucket/prefix/AWSLogs/ (or .../AWSLogs/o-org/ for an organization trail).
CREATE EXTERNAL TABLE IF NOT EXISTS `{{database}}`.`cloudtrail` (
    `eventversion` STRING,
    `useridentity` STRUCT<
        type: STRING,
        principalid: STRING,
        arn: STRING,
        accountid: STRING,
        invokedby: STRING,
        accesskeyid: STRING,
        username: STRING,
        onbehalfof: STRUCT<userid: STRING, identitystorearn: STRING>,
        sessioncontext: STRUCT<
            attributes: STRUCT<mfaauthenticated: STRING, creationdate: STRING>,
            sessionissuer: STRUCT<type: STRING, principalid: STRING, arn: STRING, accountid: STRING, username: STRING>,
            ec2roledelivery: STRING,
            sourceidentity: STRING
        >
    >,
    `eventtime` STRING,
    `eventsource` STRING,
    `eventname` STRING,
    `awsregion` STRING,
    `sourceipaddress` STRING,
    `useragent` STRING,
    `errorcode` STRING,
    `errormessage` STRING,
    `requestparameters` STRING,
    `responseelements` STRING,
    `additionaleventdata` STRING,
    `requestid` STRING,
    `eventid` STRING,
    `resources` ARRAY<STRUCT<arn: STRING, accountid: STRING, type: STRING>>,
    `eventtype` STRING,
    `apiversion` STRING,
    `readonly` STRING,
    `recipientaccountid` STRING,
    `serviceeventdetails` STRING,
    `sharedeventid` STRING,
    `vpcendpointid` STRING,
    `eventcategory` STRING,
    `tlsdetails` STRUCT<tlsversion: STRING, ciphersuite: STRING, clientprovidedhostheader: STRING>
)
PARTITIONED BY (`account` STRING, `region` STRING, `day` STRING)
ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'
STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION '{{logs}}'
TBLPROPERTIES (
    'projection.enabled' = 'true',
    'projection.account.type' = 'enum',
    'projection.account.values' = '{{accounts}}',
    'projection.region.type' = 'enum',
    'projection.region.values' = '{{regions}}',
    'projection.day.type' = 'date',
    'projection.day.format' = 'yyyy/MM/dd',
    'projection.day.range' = '{{first_day}},NOW',
    'projection.day.interval' = '1',
    'projection.day.interval.unit' = 'DAYS',
    'storage.location.template' = '{{logs}}${account}/CloudTrail/${region}/${day}'
)
