-- name: detect_ec2_unusual_instances
-- filters: candidate_events
-- Detection `ec2_unusual_instances`: Unusual EC2 instances launched. Candidate events, failed calls
-- included: ec2.amazonaws.com RunInstances.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'ec2.amazonaws.com'
  AND eventname IN ('RunInstances'))
