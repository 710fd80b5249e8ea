-- name: detect_flow_logs_deleted
-- filters: candidate_events
-- Detection `flow_logs_deleted`: VPC flow logs deleted. Candidate events, failed calls included: ec2.amazonaws.com DeleteFlowLogs.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'ec2.amazonaws.com' AND eventname IN ('DeleteFlowLogs'))
