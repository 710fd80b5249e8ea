-- name: connections
-- params: since_epoch, until_epoch, opened_epoch, closed_epoch, since_day, since_hour, until_hour, account, region, protocol, from_port, to_port
-- The flow records of one exposure window's time (with its margins), cut to what "who came in
-- through the hole" needs: traffic on the window's ports, either way (`in`: to the port, `out`: the
-- replies from it), one row per interface, remote address and port, action, hour and phase (before
-- the window opened, during, after it closed: epoch seconds, NULL for no bound); every other
-- record only counted per interface, log status and hour, for coverage. Which interfaces were in the
-- group, which addresses are public and the verdicts are decided in Python (analysis.connections).
-- The partition bounds let Athena read only the window's days, or its hours when the flow log is
-- partitioned by hour (`day` then holds 'YYYY/MM/DD/HH'): '>= :since_hour OR = :since_day' takes
-- both layouts.
SELECT
    account, region, interface_id, instance_id, log_status, action, hit AS direction,
    CASE hit WHEN 'in' THEN srcaddr WHEN 'out' THEN dstaddr END AS remote_addr,
    CASE hit WHEN 'in' THEN srcport WHEN 'out' THEN dstport END AS remote_port,
    "start" - "start" % 3600 AS hour,
    CASE
        WHEN "end" < :opened_epoch THEN 'before'
        WHEN "start" > :closed_epoch THEN 'after'
        ELSE 'during'
    END AS phase,
    count(*) AS records,
    CAST(sum(packets) AS BIGINT) AS packets,  -- DuckDB's sum of BIGINT is HUGEINT; Athena's is BIGINT
    CAST(sum(bytes) AS BIGINT) AS bytes,
    min("start") AS first_start,
    max("end") AS last_end
FROM (
    SELECT
        account, region, interface_id, instance_id, log_status, action, srcaddr, dstaddr, srcport,
        dstport, packets, bytes, "start", "end",
        CASE
            WHEN log_status <> 'OK' OR (:protocol IS NOT NULL AND protocol <> :protocol) THEN NULL
            WHEN dstport BETWEEN :from_port AND :to_port
                 AND coalesce(flow_direction, 'ingress') = 'ingress' THEN 'in'
            WHEN srcport BETWEEN :from_port AND :to_port
                 AND coalesce(flow_direction, 'egress') = 'egress' THEN 'out'
        END AS hit
    FROM vpcflowlogs
    WHERE (day IS NULL OR :since_hour IS NULL OR day >= :since_hour OR day = :since_day)
      AND (day IS NULL OR :until_hour IS NULL OR day <= :until_hour)
      AND (:since_epoch IS NULL OR "end" >= :since_epoch)
      AND (:until_epoch IS NULL OR "start" < :until_epoch)
      AND (:account IS NULL OR account = :account)
      AND (:region IS NULL OR region = :region)
)
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
ORDER BY interface_id, hour, remote_addr, remote_port, direction, action
