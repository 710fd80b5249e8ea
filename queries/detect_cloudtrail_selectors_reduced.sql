-- name: detect_cloudtrail_selectors_reduced
-- filters: candidate_events
-- Detection `cloudtrail_selectors_reduced`: CloudTrail event selectors drop management events. Candidate events, failed calls included: cloudtrail.amazonaws.com PutEventSelectors.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'cloudtrail.amazonaws.com' AND eventname IN ('PutEventSelectors'))
