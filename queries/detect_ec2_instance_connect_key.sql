-- name: detect_ec2_instance_connect_key
-- filters: candidate_events
-- Detection `ec2_instance_connect_key`: SSH key pushed to an instance. Candidate events, failed calls included: ec2-instance-connect.amazonaws.com SendSSHPublicKey, SendSerialConsoleSSHPublicKey.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'ec2-instance-connect.amazonaws.com' AND eventname IN ('SendSSHPublicKey', 'SendSerialConsoleSSHPublicKey'))
