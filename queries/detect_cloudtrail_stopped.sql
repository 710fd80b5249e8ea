-- name: detect_cloudtrail_stopped
-- filters: candidate_events
-- Detection `cloudtrail_stopped`: CloudTrail logging stopped. Candidate events, failed calls included: cloudtrail.amazonaws.com StopLogging.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'cloudtrail.amazonaws.com' AND eventname IN ('StopLogging'))
