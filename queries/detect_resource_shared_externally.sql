-- name: detect_resource_shared_externally
-- filters: candidate_events
-- Detection `resource_shared_externally`: Snapshot or image shared outside the account. Candidate events, failed calls included: ec2.amazonaws.com ModifySnapshotAttribute, ModifyImageAttribute; rds.amazonaws.com ModifyDBSnapshotAttribute, ModifyDBClusterSnapshotAttribute.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(
  (eventsource = 'ec2.amazonaws.com' AND eventname IN ('ModifySnapshotAttribute', 'ModifyImageAttribute'))
  OR (eventsource = 'rds.amazonaws.com' AND eventname IN ('ModifyDBSnapshotAttribute', 'ModifyDBClusterSnapshotAttribute'))
)
