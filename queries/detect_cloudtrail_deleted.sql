-- name: detect_cloudtrail_deleted
-- filters: candidate_events
-- Detection `cloudtrail_deleted`: CloudTrail trail deleted. Candidate events, failed calls included: cloudtrail.amazonaws.com DeleteTrail.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'cloudtrail.amazonaws.com' AND eventname IN ('DeleteTrail'))
