-- name: detect_ec2_user_data_replaced
-- filters: candidate_events
-- Detection `ec2_user_data_replaced`: EC2 instance user data replaced. Candidate events, failed
-- calls included: ec2.amazonaws.com ModifyInstanceAttribute.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'ec2.amazonaws.com' AND eventname IN ('ModifyInstanceAttribute'))
