-- name: detect_instance_secrets_enumerated
-- filters: candidate_events
-- Detection `instance_secrets_enumerated`: Instance passwords or user data read across instances.
-- Candidate events, failed calls included: ec2.amazonaws.com GetPasswordData,
-- DescribeInstanceAttribute.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'ec2.amazonaws.com'
  AND eventname IN ('GetPasswordData', 'DescribeInstanceAttribute'))
