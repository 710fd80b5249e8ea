-- name: detect_nacl_ssh_open
-- filters: candidate_events
-- Detection `nacl_ssh_open`: Network ACL allows a watched port from the internet. Candidate events, failed calls included: ec2.amazonaws.com CreateNetworkAclEntry, ReplaceNetworkAclEntry.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'ec2.amazonaws.com' AND eventname IN ('CreateNetworkAclEntry', 'ReplaceNetworkAclEntry'))
