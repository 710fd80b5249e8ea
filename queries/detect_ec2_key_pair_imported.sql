-- name: detect_ec2_key_pair_imported
-- filters: candidate_events
-- Detection `ec2_key_pair_imported`: EC2 key pair imported. Candidate events, failed calls included: ec2.amazonaws.com ImportKeyPair.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'ec2.amazonaws.com' AND eventname IN ('ImportKeyPair'))
