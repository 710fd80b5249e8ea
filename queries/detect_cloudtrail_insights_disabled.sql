-- name: detect_cloudtrail_insights_disabled
-- filters: candidate_events
-- Detection `cloudtrail_insights_disabled`: CloudTrail Insights turned off. Candidate events, failed calls included: cloudtrail.amazonaws.com PutInsightSelectors.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'cloudtrail.amazonaws.com' AND eventname IN ('PutInsightSelectors'))
