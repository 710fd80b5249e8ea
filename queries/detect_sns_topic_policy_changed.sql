-- name: detect_sns_topic_policy_changed
-- filters: candidate_events
-- Detection `sns_topic_policy_changed`: SNS topic policy changed. Candidate events, failed calls included: sns.amazonaws.com SetTopicAttributes, RemovePermission.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'sns.amazonaws.com' AND eventname IN ('SetTopicAttributes', 'RemovePermission'))
