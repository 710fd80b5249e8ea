-- name: connections
-- params: since_epoch bigint, until_epoch bigint, opened_epoch bigint, closed_epoch bigint, since_day, since_hour, until_hour, account, region, protocol integer, from_port integer, to_port integer, interfaces, instances
-- The flow records of one exposure window's time (with its margins) on the interfaces of its group
-- (`interfaces`, `instances`: their ids between spaces, ' eni-1 eni-2 '; NULL: every interface), cut
-- in one scan to what "who came in through the hole" needs. `coverage` rows count every record per interface, hour, log
-- status and phase (before the window opened, during, after it closed: epoch seconds, NULL for no
-- bound). `source` rows hold the traffic on the window's ports, either way (`in`: to the port,
-- `out`: the replies from it), per interface, remote address, direction, action and phase, with
-- `largest_connection_bytes`: the most bytes one connection (remote port) exchanged both ways,
-- accepted. Which interfaces were in the group, which addresses are public and the verdicts are
-- decided in Python (analysis.connections). The partition bounds let Athena read only the window's
-- days, or its hours when the flow log is partitioned by hour (`day` then holds 'YYYY/MM/DD/HH'):
-- '>= :since_hour OR = :since_day' takes both layouts. Packets and bytes are summed as DOUBLE and
-- capped at 2^53 (exact below it): records whose counts add up past BIGINT (evidence may hold any
-- number) cost nothing but their own size, instead of failing the query on either engine.
SELECT
    CASE WHEN by_hour = 0 THEN 'coverage' ELSE 'source' END AS part,
    account, region, interface_id, instance_id, log_status, hour, phase, direction, action, remote_addr,
    CAST(sum(records) AS BIGINT) AS records,
    CAST(least(sum(packets), 9007199254740992) AS BIGINT) AS packets,
    CAST(least(sum(bytes), 9007199254740992) AS BIGINT) AS bytes,
    min(first_start) AS first_start,
    max(last_end) AS last_end,
    CAST(least(max(connection_bytes), 9007199254740992) AS BIGINT) AS largest_connection_bytes
FROM (
    SELECT
        *,
        sum(CASE WHEN action = 'ACCEPT' THEN bytes END) OVER (
            PARTITION BY by_hour, account, region, interface_id, remote_addr, remote_port, phase
        ) AS connection_bytes
    FROM (
        SELECT
            account, region, interface_id, instance_id, log_status, hour, phase, hit AS direction, action,
            remote_addr, remote_port, grouping(hour) AS by_hour,
            count(*) AS records,
            sum(packets) AS packets,
            sum(bytes) AS bytes,
            min("start") AS first_start,
            max("end") AS last_end
        FROM (
            SELECT
                account, region, interface_id, instance_id, log_status, action, "start", "end",
                CAST(packets AS DOUBLE) AS packets, CAST(bytes AS DOUBLE) AS bytes,
                "start" - "start" % 3600 AS hour,
                CASE
                    WHEN "end" < :opened_epoch THEN 'before'
                    WHEN "start" > :closed_epoch THEN 'after'
                    ELSE 'during'
                END AS phase,
                hit,
                CASE hit WHEN 'in' THEN srcaddr WHEN 'out' THEN dstaddr END AS remote_addr,
                CASE hit WHEN 'in' THEN srcport WHEN 'out' THEN dstport END AS remote_port
            FROM (
                SELECT
                    *,
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
                  AND (:interfaces IS NULL OR contains(split(trim(:interfaces), ' '), interface_id)
                       OR contains(split(trim(:instances), ' '), instance_id))
            )
        )
        GROUP BY GROUPING SETS (
            (account, region, interface_id, instance_id, log_status, hour, phase),
            (account, region, interface_id, instance_id, phase, hit, action, remote_addr, remote_port)
        )
    )
)
WHERE by_hour = 0 OR direction IS NOT NULL
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
ORDER BY part, interface_id, hour, remote_addr, direction, action, phase
