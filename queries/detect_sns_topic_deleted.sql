-- name: detect_sns_topic_deleted
-- filters: candidate_events
-- Detection `sns_topic_deleted`: SNS topic deleted. Candidate events, failed calls included: sns.amazonaws.com DeleteTopic.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'sns.amazonaws.com' AND eventname IN ('DeleteTopic'))
