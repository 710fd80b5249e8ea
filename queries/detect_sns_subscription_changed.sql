-- name: detect_sns_subscription_changed
-- filters: candidate_events
-- Detection `sns_subscription_changed`: SNS subscription changed. Candidate events, failed calls included: sns.amazonaws.com Subscribe, Unsubscribe, SetSubscriptionAttributes.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'sns.amazonaws.com' AND eventname IN ('Subscribe', 'Unsubscribe', 'SetSubscriptionAttributes'))
