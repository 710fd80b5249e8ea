-- name: detect_cloudtrail_updated
-- filters: candidate_events
-- Detection `cloudtrail_updated`: CloudTrail trail updated. Candidate events, failed calls included: cloudtrail.amazonaws.com UpdateTrail.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'cloudtrail.amazonaws.com' AND eventname IN ('UpdateTrail'))
