-- name: detect_eventbridge_security_rule_changed
-- filters: candidate_events
-- Detection `eventbridge_security_rule_changed`: EventBridge rule for security events changed. Candidate events, failed calls included: events.amazonaws.com PutRule.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'events.amazonaws.com' AND eventname IN ('PutRule'))
